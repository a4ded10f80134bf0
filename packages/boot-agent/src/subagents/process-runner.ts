/**
 * How the supervisor touches processes: behind an interface so the reconcile loop is unit
 * tested with a fake and runs real processes in the agent.
 *
 * Sub-agents are spawned detached (their own session and process group, pgid = pid) with
 * stdio going to a log file, never pipes: they must outlive the BootAgent (restart, upgrade,
 * kill -9) without a SIGPIPE or a full pipe stopping them.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isAlive, isSameProcess, processStartTicks, processStartUnix } from '@aspire/agent-core';

export interface Launch {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  uid?: number;
  gid?: number;
  logFile: string;
}

export interface Spawned {
  pid: number;
  startTicks: string;
}

export type ExitListener = (code: number | null, signal: string | null) => void;

export interface ProcessRunner {
  /** Start a process; onExit fires once when it ends (own children only). */
  spawn(launch: Launch, onExit: ExitListener): Promise<Spawned>;
  /** Start ticks of a live pid (identity with the pid), undefined when gone. */
  startTicks(pid: number): string | undefined;
  /** Wall ms when a live pid started (to refuse pids older than our start: reuse). */
  startedAtMs(pid: number): number | undefined;
  /** The very process (pid + start ticks) still lives. */
  alive(pid: number, startTicks: string): boolean;
  /** Signal the process group led by pid (falls back to the pid alone). */
  signalGroup(pid: number, signal: NodeJS.Signals): void;
  /** Run a short command (stop `process:`, `check`); resolves with its exit code (null = killed/timeout). */
  run(argv: string[], opts: { cwd: string; env: Record<string, string>; uid?: number; gid?: number; timeoutMs: number }): Promise<number | null>;
}

export function createProcessRunner(): ProcessRunner {
  return {
    spawn(launch, onExit) {
      mkdirSync(dirname(launch.logFile), { recursive: true });
      const fd = openSync(launch.logFile, 'a', 0o640);
      const cmd = isAbsolute(launch.argv[0]!) || !launch.argv[0]!.includes('/') ? launch.argv[0]! : resolve(launch.cwd, launch.argv[0]!);
      return new Promise<Spawned>((resolvePromise, reject) => {
        let child;
        try {
          child = spawn(cmd, launch.argv.slice(1), {
            cwd: launch.cwd,
            env: launch.env,
            detached: true,
            stdio: ['ignore', fd, fd],
            uid: launch.uid,
            gid: launch.gid,
          });
        } catch (err) {
          closeSync(fd);
          reject(err);
          return;
        }
        child.once('error', (err) => {
          closeSync(fd);
          reject(err);
        });
        child.once('spawn', () => {
          closeSync(fd);
          const pid = child.pid!;
          // Our children are reaped by node; the 'exit' event is the fast path of supervision.
          child.once('exit', (code, signal) => onExit(code, signal));
          child.unref();
          resolvePromise({ pid, startTicks: processStartTicks(pid) ?? '' });
        });
      });
    },
    startTicks: (pid) => (isAlive(pid) ? processStartTicks(pid) : undefined),
    startedAtMs: (pid) => {
      const s = isAlive(pid) ? processStartUnix(pid) : undefined;
      return s === undefined ? undefined : s * 1000;
    },
    alive: (pid, startTicks) => isSameProcess(pid, startTicks),
    signalGroup(pid, signal) {
      try {
        process.kill(-pid, signal);
      } catch {
        try {
          process.kill(pid, signal);
        } catch {
          /* gone */
        }
      }
    },
    run(argv, opts) {
      return new Promise((resolvePromise) => {
        const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env: opts.env, uid: opts.uid, gid: opts.gid, detached: true, stdio: 'ignore' });
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, opts.timeoutMs);
        timer.unref();
        child.once('error', () => {
          clearTimeout(timer);
          resolvePromise(null);
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolvePromise(code);
        });
      });
    },
  };
}
