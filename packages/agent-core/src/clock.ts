/**
 * Injected time. Every loop (status push, supervision tick, cron scheduler, retry backoff)
 * takes a Clock, so unit tests drive it with a ManualClock or vitest's fake timers and the
 * daemons run on real time. Nothing in the agents imports node:timers/promises directly.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /** Milliseconds from an arbitrary origin that never goes backwards. */
  monotonic(): number;
  /** Run fn after ms; the timer never keeps the process alive on its own. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Resolves after ms, or rejects with the signal's reason when aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  sleep: (ms, signal) => sleepOn(realClock, ms, signal),
};

/** Sleep expressed with a clock's own setTimeout, so it works for any Clock implementation. */
export function sleepOn(clock: Pick<Clock, 'setTimeout'>, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      handle.cancel();
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Unix seconds of a clock's wall time: what the wire calls a timestamp. */
export function unixSeconds(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}
