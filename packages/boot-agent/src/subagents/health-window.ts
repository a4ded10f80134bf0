/**
 * An upgrade's health window: a watch armed on an agent (inside the writer) is told when the
 * agent exits or cannot start (process-exit.ts, start-sequence.ts), and the restart policy
 * stays out of it; the upgrade decides (roll back). Waiting for the window runs off the loop.
 */
import type { Entry, LoopContext, WatchResult } from './loop-context.ts';
import { isRunning } from './process-probes.ts';

/** Arm a watch on e (inside serial); the promise settles when the watched start fails. */
export function armWatch(e: Entry): Promise<void> {
  return new Promise<void>((resolve) => {
    e.watch = { failed: false, reason: '', notify: resolve };
  });
}

/** Wait healthyMs (or the failure, or the abort), then disarm the watch and judge the window. */
export async function awaitWatch(
  ctx: LoopContext,
  entry: () => Entry,
  failed: Promise<void>,
  healthyMs: number,
  signal?: AbortSignal,
): Promise<WatchResult> {
  const timer = new AbortController();
  const aborted = new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  await Promise.race([ctx.deps.clock.sleep(healthyMs, timer.signal).catch(() => {}), failed, aborted]);
  timer.abort();
  return ctx.serial(() => {
    const e = entry();
    const w = e.watch;
    e.watch = undefined;
    if (w?.failed) return { ok: false, reason: w.reason };
    // The BootAgent is stopping: leave the new version running; the upgrade marker lets the next start finish the watch.
    if (signal?.aborted) return { ok: false, reason: 'interrupted before the health window ended', interrupted: true };
    return isRunning(ctx.deps.runner, e.state)
      ? { ok: true, reason: '' }
      : { ok: false, reason: 'not running at the end of the health window' };
  });
}
