import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
// Inlined when the helpers are bundled (bench/basic-helpers.mjs), where the repo root is unknown.
import daemonFlags from '../../../scripts/daemon-v8-flags.json' with { type: 'json' };
import serverFlags from '../../../scripts/server-v8-flags.json' with { type: 'json' };

/**
 * How a test runs each binary. By default the esbuild bundles in build/ on the pinned Node
 * (process.execPath: npm puts node@24.21.0 first on the PATH). With ASPIRE_BIN_DIR set (the
 * packaging e2e run) the single executables in that directory are run instead, so the same
 * suites prove the shipped binaries.
 */
export type BinaryName = 'boot' | 'BasicAgent' | 'BasicAgentCtl' | 'aspire';

const REPO_ROOT = resolve(import.meta.dirname, '../../..');
const BUNDLE: Record<BinaryName, string> = {
  boot: 'boot.cjs',
  BasicAgent: 'basic-agent.cjs',
  BasicAgentCtl: 'basic-agent.cjs',
  aspire: 'aspire.cjs',
};

/**
 * The V8 flags a long-running agent (boot, BasicAgent) is started with, the same its single
 * executable carries in its execArgv (scripts/daemon-v8-flags.json). ASPIRE_DAEMON_V8_FLAGS
 * replaces them for a benchmark comparing flags (space-separated; empty for none).
 */
export function daemonV8Flags(name: 'boot' | 'BasicAgent' = 'boot'): string[] {
  const env = process.env.ASPIRE_DAEMON_V8_FLAGS;
  if (env !== undefined) return env.split(/\s+/).filter(Boolean);
  return [...daemonFlags[name]];
}

/**
 * The V8 flags the server is started with, the same its single executable carries
 * (scripts/server-v8-flags.json). ASPIRE_SERVER_V8_FLAGS replaces them (bench/server-soak.mjs).
 */
export function serverV8Flags(): string[] {
  const env = process.env.ASPIRE_SERVER_V8_FLAGS;
  if (env !== undefined) return env.split(/\s+/).filter(Boolean);
  return [...serverFlags.flags];
}

export function repoRoot(): string {
  return REPO_ROOT;
}

export function binary(name: BinaryName): { cmd: string; args: string[] } {
  const binDir = process.env.ASPIRE_BIN_DIR;
  if (binDir) {
    const p = join(binDir, name);
    if (!existsSync(p)) throw new Error(`ASPIRE_BIN_DIR=${binDir} has no ${name}`);
    return { cmd: p, args: [] };
  }
  const bundle = join(process.env.ASPIRE_BUILD_DIR ?? join(REPO_ROOT, 'build'), BUNDLE[name]);
  // The BasicAgent bundle dispatches on its program name: argv[1] tells it to act as the Ctl.
  const extra = name === 'BasicAgentCtl' ? ['--as', 'BasicAgentCtl'] : [];
  const flags =
    name === 'boot' || name === 'BasicAgent' ? daemonV8Flags(name) : name === 'aspire' ? serverV8Flags() : [];
  return { cmd: process.execPath, args: [...flags, bundle, ...extra] };
}
