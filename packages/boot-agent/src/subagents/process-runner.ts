/**
 * How the supervisor touches processes: behind an interface so the reconcile loop is unit
 * tested with a fake and runs real processes in the agent.
 *
 * Sub-agents are spawned detached (their own session and process group, pgid = pid) with
 * stdio going to a log file, never pipes: they must outlive the BootAgent (restart, upgrade,
 * kill -9) without a SIGPIPE or a full pipe stopping them. node:child_process rather than execa:
 * execa's promise, piped output and cleanup-on-exit are exactly what a detached daemon must not have.
 *
 * A sub-agent with cgroup limits is started HELD: the process is a tiny /bin/sh launcher that
 * waits on its stdin before exec'ing the agent's program. While it waits, the runner (root)
 * writes its pid into every group's cgroup.procs, then releases it; so the agent's program
 * never runs outside its groups (cgroup v1 keeps memory charged before a move in the old group
 * and leaves children forked before it behind). Holding, rather than letting the launcher
 * write its own pid, works for agents that run as an unprivileged `user` (only root may write
 * cgroup.procs) and needs no privilege-dropping tool. If the BootAgent dies during the hold,
 * the launcher reads EOF and exits without running the program (never unlimited).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isAlive, isSameProcess, processStartTicks, processStartUnix } from '@aspire/agent-core';
import { findGroupLeadersWithEnv } from './process-scan.ts';

export interface Launch {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  uid?: number;
  gid?: number;
  logFile: string;
  /**
   * cgroup.procs files the process joins before its program runs (see the header). Empty or
   * absent: spawned directly.
   */
  cgroupProcs?: readonly string[];
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
  /**
   * Live sub-agent processes found by the environment entry their spawn carried (process-scan.ts),
   * oldest first. Optional: a runner without it (unit-test fakes) finds nothing.
   */
  findByEnv?(entry: string): { pid: number; startTicks: string }[];
  /** Run a short command (stop `process:`, `check`); resolves with its exit code (null = killed/timeout). */
  run(
    argv: string[],
    opts: { cwd: string; env: Record<string, string>; uid?: number; gid?: number; timeoutMs: number },
  ): Promise<number | null>;
}

/**
 * The held launcher: $0 is a label, "$@" the agent's argv. It execs only after reading the
 * line `go` (the groups are joined); EOF or anything else means the BootAgent gave up on this
 * start. The agent gets /dev/null as stdin, as with a direct spawn. Paths and argv are
 * arguments, never part of the script.
 */
const HELD_LAUNCHER = 'IFS= read -r go && [ "$go" = go ] && exec "$@" </dev/null; exit 125';
const LAUNCHER_SHELL = '/bin/sh';

/**
 * Find the program as spawn would (a name without '/' on the env's PATH), so a missing or
 * non-executable program fails the start as a spawn error even when the launcher starts first.
 */
export function resolveProgram(program: string, cwd: string, pathEnv: string | undefined): string {
  const runnable = (p: string): boolean => {
    try {
      if (!statSync(p).isFile()) return false;
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (program.includes('/')) {
    const p = isAbsolute(program) ? program : resolve(cwd, program);
    if (!runnable(p))
      throw Object.assign(new Error(`spawn ${program} ENOENT (missing or not executable)`), { code: 'ENOENT' });
    return p;
  }
  for (const dir of (pathEnv ?? '').split(':')) {
    if (!dir) continue;
    const p = join(isAbsolute(dir) ? dir : resolve(cwd, dir), program);
    if (runnable(p)) return p;
  }
  throw Object.assign(new Error(`spawn ${program} ENOENT (not found on PATH)`), { code: 'ENOENT' });
}

export function createProcessRunner(): ProcessRunner {
  return {
    spawn(launch, onExit) {
      const held = (launch.cgroupProcs?.length ?? 0) > 0;
      const program = launch.argv[0]!;
      let cmd: string;
      try {
        cmd = held
          ? resolveProgram(program, launch.cwd, launch.env.PATH)
          : isAbsolute(program) || !program.includes('/')
            ? program
            : resolve(launch.cwd, program);
      } catch (err) {
        return Promise.reject(err);
      }
      mkdirSync(dirname(launch.logFile), { recursive: true });
      const fd = openSync(launch.logFile, 'a', 0o640);
      const file = held ? LAUNCHER_SHELL : cmd;
      const args = held ? ['-c', HELD_LAUNCHER, 'aspire-launch', cmd, ...launch.argv.slice(1)] : launch.argv.slice(1);
      return new Promise<Spawned>((resolvePromise, reject) => {
        let child: ChildProcess;
        try {
          child = spawn(file, args, {
            cwd: launch.cwd,
            env: launch.env,
            detached: true,
            stdio: [held ? 'pipe' : 'ignore', fd, fd],
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
          if (held) {
            try {
              for (const f of launch.cgroupProcs!) writeFileSync(f, String(pid));
            } catch (err) {
              // Not in all its groups: the program must not run. EOF makes the launcher exit;
              // SIGKILL makes sure of it.
              child.stdin!.destroy();
              try {
                process.kill(-pid, 'SIGKILL');
              } catch {
                /* gone */
              }
              child.unref();
              reject(new Error(`cannot join its cgroups: ${(err as Error).message}`));
              return;
            }
            // The launcher may already be gone (killed): a failed write shows as its exit.
            child.stdin!.on('error', () => {});
            child.stdin!.end('go\n');
            (child.stdin as { unref?: () => void }).unref?.();
          }
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
    findByEnv: (entry) => findGroupLeadersWithEnv(entry),
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
        const child = spawn(argv[0]!, argv.slice(1), {
          cwd: opts.cwd,
          env: opts.env,
          uid: opts.uid,
          gid: opts.gid,
          detached: true,
          stdio: 'ignore',
        });
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
