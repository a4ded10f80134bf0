/**
 * Node cannot fork(), so a daemon started without -f re-runs itself detached (new session,
 * stdio closed, cwd /) with -f added. The parent exits 0 only once the child reports that it
 * holds its pidfile, or non-zero with the child's reason, so `boot` / `BasicAgent` without -f
 * fail loudly instead of "starting" a daemon that died a moment later. Works for the esbuild
 * bundle (`node boot.cjs ...`) and for the single executable (argv[1] is the executable again
 * there, and its execArgv are its own).
 *
 * The child runs in /: callers pass absolute paths in `args`.
 */
import { spawn } from 'node:child_process';
import { isSea } from 'node:sea';

export const DAEMON_NOTIFY_ENV = 'ASPIRE_DAEMON_NOTIFY';

/** `exitCode`: what the waiting parent exits with (2 config, 3 already running; default 1). */
export type DaemonMessage = { ok: true; pid: number } | { ok: false; error: string; exitCode?: number };

export function daemonize(name: string, args: readonly string[]): Promise<number> {
  const pre = isSea() ? [] : [...process.execArgv, process.argv[1] as string];
  const child = spawn(process.execPath, [...pre, ...args, '-f'], {
    detached: true,
    cwd: '/',
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    // argv0 keeps the program name a single executable dispatches on (BasicAgent vs BasicAgentCtl).
    argv0: process.argv0,
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
      if (m.ok) finish(0, `${name}: daemon started, pid ${m.pid}`);
      else finish(m.exitCode ?? 1, `${name}: daemon failed to start: ${m.error}`);
    });
    child.on('error', (err) => finish(1, `${name}: cannot start the daemon: ${err.message}`));
    child.on('exit', (code, signal) =>
      finish(1, `${name}: daemon exited before it was ready (code ${code}, signal ${signal})`),
    );
  });
}

/**
 * In the daemon child: tell the waiting parent how start-up went. A no-op when the process was
 * not started by daemonize(); after the first call the variable is cleared so children of the
 * daemon (sub-agents, commands) never inherit it.
 */
export function notifyParent(msg: DaemonMessage): void {
  if (process.env[DAEMON_NOTIFY_ENV] !== '1') return;
  delete process.env[DAEMON_NOTIFY_ENV];
  if (!process.send) return;
  process.send(msg, () => {
    if (process.connected) process.disconnect();
  });
}
