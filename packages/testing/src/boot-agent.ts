import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary } from './binaries.ts';
import { Child, waitUntil } from './child.ts';
import type { MetaFile } from '@aspire/boot-agent';
import type { AspireHandle } from './aspire-server.ts';

/** The metafile as boot writes it (type only: no run-time dependency on the agent's code). */
export type BootMeta = MetaFile;

export interface StartBootOptions {
  /** Server URL or list (`-S`), e.g. startAspire().url; absent: no -S (boot.json `servers`, or none). */
  serverUrl?: string;
  enrollSecret?: string;
  /** Status push step in seconds (boot.json `step`); default 1. */
  step?: number;
  /** Reuse a state dir (restart after stop/kill9); default a fresh one in the temp dir. */
  stateDir?: string;
  /** Extra boot.json keys, merged over {step, enrollSecret, httpTimeoutSec: 5}. */
  config?: Record<string, unknown>;
  /** Extra command-line arguments. */
  args?: string[];
  /** Log file; default boot.log in the temp dir (pass the previous one to keep one log across restarts). */
  logFile?: string;
  /** Extra environment for the child. */
  env?: NodeJS.ProcessEnv;
  /** Wait for the "boot: running" line (default true). */
  waitReady?: boolean;
}

export interface BootHandle {
  child: Child;
  /** Temp dir holding boot.json, the pidfile and (by default) the state dir and the log. */
  dir: string;
  stateDir: string;
  logFile: string;
  configFile: string;
  pidfile: string;
  /** The metafile, or undefined before registration. */
  readMeta(): BootMeta | undefined;
  /** The job journal file, or undefined before it exists. */
  readJournal():
    | {
        jobs: { id: string; state: string; errcode?: number; message?: string }[];
        events: unknown[];
        eventsDropped: number;
        acked: { id: string }[];
      }
    | undefined;
  /** Log lines parsed from the JSON log file. */
  logLines(): Record<string, unknown>[];
  /** Wait until a log line matches (msg regex, optional field test). */
  waitForLog(
    re: RegExp,
    opts?: { timeoutMs?: number; where?: (line: Record<string, unknown>) => boolean },
  ): Promise<Record<string, unknown>>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL (the process group) and wait for exit. */
  kill9(): Promise<void>;
  /** Remove the temp dir (after stop). */
  cleanup(): void;
}

/**
 * Start a real `boot -f` (the built bundle, or the single executable with ASPIRE_BIN_DIR) against
 * a server, everything in a temp dir: boot.json, state dir, log, pidfile.
 */
export async function startBoot(opts: StartBootOptions): Promise<BootHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'aspire-boot-'));
  const stateDir = opts.stateDir ?? join(dir, 'state');
  mkdirSync(stateDir, { recursive: true });
  const logFile = opts.logFile ?? join(dir, 'boot.log');
  const configFile = join(dir, 'boot.json');
  const pidfile = join(dir, 'boot.pid');
  const config: Record<string, unknown> = { step: opts.step ?? 1, httpTimeoutSec: 5, ...opts.config };
  if (opts.enrollSecret !== undefined) config.enrollSecret = opts.enrollSecret;
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const bin = binary('boot');
  const args = [
    ...bin.args,
    '-f',
    '-L',
    logFile,
    '-P',
    pidfile,
    '-c',
    configFile,
    '-d',
    stateDir,
    ...(opts.serverUrl !== undefined ? ['-S', opts.serverUrl] : []),
    ...(opts.args ?? []),
  ];
  const child = new Child(bin.cmd, args, { env: { ...process.env, ...opts.env } });
  if (opts.waitReady !== false) {
    await Promise.race([
      child.waitForLine(/^boot: running pid/, 20_000),
      child.exited.then((e) => {
        throw new Error(`boot exited before it was running (code ${e.code}, signal ${e.signal}):\n${child.output}`);
      }),
    ]);
  }

  const readJson = <T>(path: string): T | undefined => {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as T;
    } catch {
      return undefined;
    }
  };
  const logLines = (): Record<string, unknown>[] => {
    let text = '';
    try {
      text = readFileSync(logFile, 'utf8');
    } catch {
      return [];
    }
    const out: Record<string, unknown>[] = [];
    for (const l of text.split('\n')) {
      if (!l.trim()) continue;
      try {
        out.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        /* a line being written */
      }
    }
    return out;
  };

  return {
    child,
    dir,
    stateDir,
    logFile,
    configFile,
    pidfile,
    readMeta: () => readJson<BootMeta>(join(stateDir, 'meta.json')),
    readJournal: () => readJson(join(stateDir, 'journal.json')),
    logLines,
    waitForLog: (re, o = {}) =>
      waitUntil(() => logLines().find((l) => re.test(String(l.msg ?? '')) && (o.where?.(l) ?? true)), {
        timeoutMs: o.timeoutMs ?? 20_000,
        what: `boot log line ${re}`,
      }),
    stop: async () => {
      await child.stop(10_000);
      return child.exited;
    },
    kill9: async () => {
      child.killGroup('SIGKILL');
      await child.exited;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A subtask as GET /api/v1/server/task?id= lists it (the fields boot tests look at). */
export interface SubtaskView {
  state: string;
  errcode: number | null;
  message: string | null;
  [field: string]: unknown;
}

/**
 * Wait until the first subtask of a task reaches a final state (SUCCESS, FAILED, or BURIED for a
 * requeue-exhausted one) and return it.
 */
export function waitForSubtask(
  srv: Pick<AspireHandle, 'api'>,
  taskId: number,
  timeoutMs = 40_000,
): Promise<SubtaskView> {
  return waitUntil(
    async () => {
      const r = await srv.api('GET', `/api/v1/server/task?id=${taskId}`);
      const s = (r.body as { subtasks?: SubtaskView[] }).subtasks?.[0];
      return s && ['SUCCESS', 'FAILED', 'BURIED'].includes(s.state) ? s : undefined;
    },
    { timeoutMs, what: `task ${taskId} final` },
  );
}
