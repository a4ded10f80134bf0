import { sleepOn, type Clock, type TimerHandle } from '@aspire/agent-core';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A Clock that moves only when a test says so. advance(ms) fires due timers in time order,
 * letting promise callbacks settle between them so async loops progress as they would.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Pending[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  monotonic(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const p: Pending = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(p);
    return {
      cancel: () => {
        p.cancelled = true;
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Timers still waiting. */
  get pending(): number {
    return this.timers.filter((p) => !p.cancelled).length;
  }

  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flushMicrotasks();
      this.timers = this.timers.filter((p) => !p.cancelled);
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
    await flushMicrotasks();
  }
}

export async function flushMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
  await new Promise<void>((r) => setImmediate(r));
}

/** Node's names for file-system requests in flight (process.getActiveResourcesInfo()). */
const FS_REQUEST = /^(FSReqCallback|FSReqPromise|CloseReq)$/;

/**
 * Resolves once no file-system request of this process is in flight (checked over two event
 * loop turns in a row), or after timeoutMs of real time. A test that drives code doing real
 * file I/O (journal, state files) with a ManualClock awaits this before each advance, so the
 * fake clock never moves while a write is still finishing: what the code measures on the clock
 * then does not depend on how fast the disk or the machine is.
 */
export async function realIoSettled(timeoutMs = 30_000): Promise<void> {
  const give = Date.now() + timeoutMs;
  let quiet = 0;
  while (quiet < 2 && Date.now() < give) {
    await flushMicrotasks(5);
    quiet = process.getActiveResourcesInfo().some((r) => FS_REQUEST.test(r)) ? 0 : quiet + 1;
  }
}
