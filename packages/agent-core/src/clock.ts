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
  /**
   * Run fn after ms (any length: a delay beyond what the platform timer holds is re-armed in
   * steps and never fires early); the timer never keeps the process alive on its own.
   */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Resolves after ms, or rejects with the signal's reason when aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * Milliseconds on the process's high-resolution monotonic clock. Not performance.now(): the
 * `performance` global loads node:perf_hooks (~0.5 MB an idle daemon would hold for this alone;
 * docs/boot-agent.md "Idle memory").
 */
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export const realClock: Clock = {
  now: () => Date.now(),
  monotonic: monotonicMs,
  setTimeout: (fn, ms) => longTimeout(fn, ms, monotonicMs),
  sleep: (ms, signal) => sleepOn(realClock, ms, signal),
};

/**
 * The longest delay Node's setTimeout holds (2^31-1 ms, 24.8 days). A longer one is not kept:
 * Node fires it after 1 ms with a TimeoutOverflowWarning.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * A real timer for any delay: armed in steps of at most MAX_TIMER_DELAY_MS, and at each wake-up
 * the remaining time is measured again on the monotonic clock, so fn runs only once the full
 * delay has passed, however long it is and however early a platform timer wakes.
 */
export function longTimeout(fn: () => void, ms: number, monotonic: () => number): TimerHandle {
  const target = monotonic() + (Number.isNaN(ms) ? 0 : Math.max(0, ms));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let cancelled = false;
  const arm = (delay: number) => {
    timer = setTimeout(wake, Math.min(Math.ceil(delay), MAX_TIMER_DELAY_MS));
    timer.unref();
  };
  const wake = () => {
    if (cancelled) return;
    const left = target - monotonic();
    if (left > 0) arm(left);
    else fn();
  };
  arm(target - monotonic());
  return {
    cancel: () => {
      cancelled = true;
      clearTimeout(timer);
    },
  };
}

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
