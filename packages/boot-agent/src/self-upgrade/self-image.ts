/**
 * What this BootAgent runs from, how to run another build of it, and whether a file is a
 * BootAgent at all. A single executable (the shipped form) is the file itself; the esbuild
 * bundle (tests, development) is a script that the running node executes.
 */
import { realpathSync } from 'node:fs';
import { isSea } from 'node:sea';
import { execFileText } from '../subagents/rpm.ts';

export type Launcher = 'sea' | 'node';

export interface SelfImage {
  /** The file a swap replaces: the single executable, or the bundle node runs. */
  file: string;
  launcher: Launcher;
}

export function currentImage(): SelfImage {
  if (isSea()) return { file: realpathSync(process.execPath), launcher: 'sea' };
  return { file: realpathSync(process.argv[1] ?? process.execPath), launcher: 'node' };
}

/** The execve of `file` run the way this process runs (argv[0] included). */
export function execCommand(
  file: string,
  launcher: Launcher,
  args: readonly string[],
): { cmd: string; argv: string[] } {
  if (launcher === 'sea') return { cmd: file, argv: [file, ...args] };
  return { cmd: process.execPath, argv: [process.execPath, ...process.execArgv, file, ...args] };
}

export interface ProbedVersion {
  version: string;
  arch: string;
}

/** `boot 1.2.3 (node 24.21.0, x86_64)`, as every build prints for --version. */
const VERSION_LINE = /^boot (\S+) \(node [^,]+, (\S+)\)$/;

/**
 * Run `FILE --version` (a few seconds at most, no environment of ours) and read its line. Not a
 * BootAgent (does not run, prints something else): the reason, to refuse the package with.
 */
export async function probeBootAgent(
  file: string,
  launcher: Launcher,
): Promise<{ ok: true; probed: ProbedVersion } | { ok: false; reason: string }> {
  const { cmd, argv } = execCommand(file, launcher, ['--version']);
  const r = await execFileText(cmd, argv.slice(1), { timeoutMs: 30_000 });
  const line = r.stdout.trim().split('\n')[0] ?? '';
  const m = VERSION_LINE.exec(line);
  if (r.code !== 0 || !m)
    return {
      ok: false,
      reason: `it is not a BootAgent: '--version' ${r.code !== 0 ? `failed (exit ${r.code}: ${r.stderr.trim().slice(0, 200)})` : `printed ${JSON.stringify(line.slice(0, 120))}`}`,
    };
  return { ok: true, probed: { version: m[1]!, arch: m[2]! } };
}
