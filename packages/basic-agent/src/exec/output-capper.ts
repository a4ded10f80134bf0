import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { CappedOutput } from './capped-output.ts';
import { signalGroup } from './kill-escalation.ts';

/**
 * The output cap applied outside the agent. A command's stdout and stderr go into one pipe read
 * by a small capper process: `head -c CAP` passes the first CAP bytes to the agent and exits
 * (coreutils head reads no byte past CAP), then `wc -c` reads the rest and reports only its
 * length. The agent never reads the dropped bytes: reading them itself (a fresh Buffer per
 * 64 KiB chunk) took seconds per GB and left it ~70 MB bigger for good, the garbage buffers
 * piling up before each GC.
 *
 * Nothing from the request reaches this shell line: the cap is a number passed as $1.
 */
const CAPPER_SCRIPT = 'head -c "$1"; exec wc -c >&2';

const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface OutputCapper {
  /** The pipe's write end: the command's stdout and stderr. Call `handedOver()` once spawned. */
  readonly input: Writable;
  /** Close the agent's copy of the write end, so the capper sees EOF when the command's last writer closes. */
  handedOver(): void;
  /** Resolves when the capper has passed and counted everything and exited. */
  readonly done: Promise<void>;
  readonly finished: boolean;
  /** Stop the capper now (something outside the command holds the pipe); the count is then unknown. */
  stop(): void;
  /**
   * The kept bytes (cut on a UTF-8 boundary when truncated) and how many were dropped. Without
   * the capper's count (stopped early) a full cap is reported truncated with 0 bytes known dropped.
   */
  result(): { output: string; truncated: boolean; droppedBytes: number };
}

/** Start a capper that keeps `cap` bytes. Throws when the capper cannot be spawned. */
export function startOutputCapper(cap: number): OutputCapper {
  const proc: ChildProcess = spawn('/bin/sh', ['-c', CAPPER_SCRIPT, 'aspire-capper', String(cap)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    // Its own group, so stop() also ends the head or wc running under the shell.
    detached: true,
    env: { PATH: SAFE_PATH, LANG: 'C' },
  });
  const kept = new CappedOutput(cap);
  let counted: number | undefined;
  let report = '';
  let finished = false;
  proc.stdout!.on('data', (b: Buffer) => kept.push(b));
  proc.stderr!.on('data', (b: Buffer) => {
    // Only wc's count (and any error line of head or wc) comes here: a few bytes.
    if (report.length < 4096) report += b.toString('latin1');
  });
  for (const s of [proc.stdin!, proc.stdout!, proc.stderr!]) s.on('error', () => {});
  const done = new Promise<void>((resolve) => {
    proc.on('close', () => {
      finished = true;
      const m = /^\s*(\d+)\s*$/m.exec(report);
      if (m) counted = Number(m[1]);
      resolve();
    });
    proc.on('error', () => {
      finished = true;
      resolve();
    });
  });
  return {
    input: proc.stdin!,
    handedOver: () => proc.stdin!.destroy(),
    done,
    get finished() {
      return finished;
    },
    stop() {
      if (finished || proc.pid === undefined) return;
      signalGroup(proc.pid, 'SIGKILL');
    },
    result() {
      const droppedBytes = counted ?? 0;
      const truncated = droppedBytes > 0 || (counted === undefined && kept.keptBytes >= cap);
      return { output: kept.text({ truncated }), truncated, droppedBytes };
    },
  };
}
