/**
 * rpm as a package backend: `rpm -U` to install or upgrade, `rpm -U --oldpackage` to roll back,
 * `rpm -e` to remove; `--root`/`--dbpath` configurable so tests use a private database. The
 * package must carry a file named agent.json (the run spec), anywhere in its file list.
 * node:child_process's execFile rather than execa: a timeout, an abort signal and the text of
 * stdout/stderr are all rpm needs, and execa would be one more dependency tree in the agent's
 * bundle, whose idle memory docs/performance.md budgets.
 */
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { JobError } from './job-error.ts';
import { RUN_SPEC_FILE } from './run-spec.ts';

export interface RpmOptions {
  /** rpm --root (default: none, the host). */
  root?: string;
  /** rpm --dbpath (default: rpm's own). */
  dbpath?: string;
  /** The rpm binary (default "rpm" on PATH). */
  bin?: string;
}

export function rpmArgs(o: RpmOptions): string[] {
  const a: string[] = [];
  if (o.root) a.push('--root', o.root);
  if (o.dbpath) a.push('--dbpath', o.dbpath);
  return a;
}

export function execFileText(
  cmd: string,
  args: string[],
  opts: { timeoutMs: number; signal?: AbortSignal | undefined },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs, signal: opts.signal, maxBuffer: 4 * 1024 * 1024, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : 127) : 0,
          stdout: String(stdout),
          stderr: String(stderr || e?.message || ''),
        });
      },
    );
  });
}

export interface RpmInfo {
  name: string;
  version: string;
  specPath: string;
}

/** NAME and VERSION-RELEASE of a package file (or an installed package with installed=true). */
export async function rpmQuery(o: RpmOptions, target: string, installed: boolean): Promise<RpmInfo> {
  const bin = o.bin ?? 'rpm';
  const q = installed ? ['-q'] : ['-qp'];
  const head = await execFileText(bin, [...rpmArgs(o), ...q, '--qf', '%{NAME}\\n%{VERSION}-%{RELEASE}\\n', target], {
    timeoutMs: 60_000,
  });
  if (head.code !== 0)
    throw new JobError(
      installed ? 'JOB_INSTALL_FAILED' : 'JOB_BAD_PACKAGE',
      `rpm query of ${basename(target)} failed: ${head.stderr.trim()}`,
    );
  const [name, version] = head.stdout.split('\n');
  const list = await execFileText(bin, [...rpmArgs(o), ...q, '-l', target], { timeoutMs: 60_000 });
  const specPath = list.stdout.split('\n').find((l) => basename(l) === RUN_SPEC_FILE);
  if (!name || !version) throw new JobError('JOB_BAD_PACKAGE', `rpm ${basename(target)}: no name/version`);
  if (!specPath) throw new JobError('JOB_BAD_PACKAGE', `rpm ${name}: carries no ${RUN_SPEC_FILE} (the run spec)`);
  return { name, version, specPath };
}

export async function rpmInstall(
  o: RpmOptions,
  file: string,
  opts: { oldpackage?: boolean; signal?: AbortSignal } = {},
): Promise<void> {
  const args = [...rpmArgs(o), '-U', '--replacepkgs', ...(opts.oldpackage ? ['--oldpackage'] : []), file];
  const r = await execFileText(o.bin ?? 'rpm', args, { timeoutMs: 600_000, signal: opts.signal });
  if (r.code !== 0) {
    const disk = /No space left|needs \d+\w* more space/i.test(r.stderr);
    throw new JobError(
      disk ? 'JOB_DISK_FULL' : 'JOB_INSTALL_FAILED',
      `rpm -U ${basename(file)} failed: ${r.stderr.trim().slice(0, 1000)}`,
    );
  }
}

export async function rpmErase(o: RpmOptions, name: string): Promise<void> {
  const r = await execFileText(o.bin ?? 'rpm', [...rpmArgs(o), '-e', name], { timeoutMs: 600_000 });
  if (r.code !== 0 && !/is not installed/.test(r.stderr))
    throw new JobError('JOB_UNINSTALL_FAILED', `rpm -e ${name} failed: ${r.stderr.trim().slice(0, 1000)}`);
}
