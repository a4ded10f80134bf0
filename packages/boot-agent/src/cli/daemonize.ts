/**
 * Without -f, boot daemonizes: it re-runs itself detached (new session, stdio closed, cwd /)
 * with -f added, and the parent exits 0 only once the child reports that it holds the pidfile,
 * or non-zero with the child's reason. Works for the esbuild bundle (node boot.cjs ...) and for
 * the single executable (argv[1] is the executable again there).
 */
import { spawn } from 'node:child_process';
import { isSea } from 'node:sea';

export const DAEMON_NOTIFY_ENV = 'BOOT_DAEMON_NOTIFY';

export type DaemonMessage = { ok: true; pid: number } | { ok: false; error: string };

export function daemonize(args: readonly string[]): Promise<number> {
  // A single executable re-applies its own execArgv; argv[1] is the executable again there.
  const pre = isSea() ? [] : [...process.execArgv, process.argv[1] as string];
  const child = spawn(process.execPath, [...pre, ...args, '-f'], {
    detached: true,
    cwd: '/',
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: { ...process.env, [DAEMON_NOTIFY_ENV]: '1' },
  });
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: number, line: string) => {
      if (done) return;
      done = true;
      (code === 0 ? process.stdout : process.stderr).write(`${line}\n`);
      child.removeAllListeners();
      if (child.connected) child.disconnect();
      child.unref();
      resolve(code);
    };
    child.on('message', (m: DaemonMessage) => {
      if (m.ok) finish(0, `boot: daemon started, pid ${m.pid}`);
      else finish(1, `boot: daemon failed to start: ${m.error}`);
    });
    child.on('error', (err) => finish(1, `boot: cannot start the daemon: ${err.message}`));
    child.on('exit', (code, signal) => finish(1, `boot: daemon exited before it was ready (code ${code}, signal ${signal})`));
  });
}

/** In the daemon child: tell the waiting parent how start-up went (no-op when not daemonized). */
export function notifyParent(env: NodeJS.ProcessEnv, msg: DaemonMessage): void {
  if (env[DAEMON_NOTIFY_ENV] !== '1' || !process.send) return;
  process.send(msg, () => {
    if (process.connected) process.disconnect();
  });
}
