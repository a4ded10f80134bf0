import { spawn } from 'node:child_process';
import { isSea } from 'node:sea';

/**
 * Node cannot fork(): "daemonize" re-runs this program detached with -f added and the parent
 * exits. In a single executable argv[1] repeats the executable (node inserts it), so only the
 * user arguments are passed on.
 */
export function respawnDetached(argv: readonly string[], extra: string[]): number {
  const args = isSea() ? [...argv.slice(2), ...extra] : [...process.execArgv, ...argv.slice(1), ...extra];
  const child = spawn(process.execPath, args, { detached: true, stdio: 'ignore', argv0: process.argv0 });
  child.unref();
  return child.pid ?? -1;
}
