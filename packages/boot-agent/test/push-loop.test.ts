import { Backoff, silentLogger } from '@aspire/agent-core';
import { ManualClock } from '@aspire/testing';
import { describe, expect, it } from 'vitest';
import { PushLoop, type RoundResult } from '../src/loop/push-loop.ts';

/** A round whose result the test decides; records when each round started (clock ms). */
function scripted(clock: ManualClock, results: (RoundResult | (() => Promise<RoundResult>))[]) {
  const starts: number[] = [];
  let i = 0;
  const round = async (): Promise<RoundResult> => {
    starts.push(clock.now());
    const r = results[Math.min(i++, results.length - 1)]!;
    return typeof r === 'function' ? r() : r;
  };
  return { starts, round };
}

describe('PushLoop (ManualClock, no real sleeping)', () => {
  it('pushes at once, then every step', async () => {
    const clock = new ManualClock(0);
    const s = scripted(clock, [{ kind: 'ok' }]);
    const loop = new PushLoop({ clock, logger: silentLogger() });
    loop.start({ stepSec: () => 5, round: s.round });
    await clock.advance(0);
    expect(s.starts).toEqual([0]);
    await clock.advance(16_000);
    expect(s.starts).toEqual([0, 5000, 10_000, 15_000]);
    await loop.stop();
    await clock.advance(60_000);
    expect(s.starts).toHaveLength(4);
  });

  it('keeps at most one round in flight: a slow round delays the next instead of overlapping it', async () => {
    const clock = new ManualClock(0);
    let inFlight = 0;
    let maxInFlight = 0;
    const slow = async (): Promise<RoundResult> => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await clock.sleep(12_000);
      inFlight--;
      return { kind: 'ok' };
    };
    const s = scripted(clock, [slow]);
    const loop = new PushLoop({ clock, logger: silentLogger() });
    loop.start({ stepSec: () => 5, round: s.round });
    await clock.advance(40_000);
    expect(maxInFlight).toBe(1);
    // 0 (ends 12 s) -> 17 (ends 29 s) -> 34
    expect(s.starts).toEqual([0, 17_000, 34_000]);
    // The round in flight ignores the abort: stop waits for it to end on its own.
    const stopped = loop.stop();
    await clock.advance(12_000);
    await stopped;
  });

  it('backs off with jitter when every server fails, capped at the step, and resets after success', async () => {
    const clock = new ManualClock(0);
    const fail: RoundResult = { kind: 'failed' };
    const s = scripted(clock, [fail, fail, fail, fail, fail, fail, { kind: 'ok' }]);
    // random() = 1: the delay is the top of each jitter window, so the schedule is exact.
    const backoff = new Backoff({ baseMs: 1000, maxMs: 3_600_000, random: () => 1 });
    const loop = new PushLoop({ clock, logger: silentLogger(), backoff });
    loop.start({ stepSec: () => 10, round: s.round });
    await clock.advance(100_000);
    // failures wait 1, 2, 4, 8, 10 (cap), 10 s; then the success waits a full step.
    expect(s.starts.slice(0, 8)).toEqual([0, 1000, 3000, 7000, 15_000, 25_000, 35_000, 45_000]);
    expect(backoff.attempts).toBe(0);
    await loop.stop();
  });

  it('jitter spreads retries between half and all of the window', async () => {
    const clock = new ManualClock(0);
    const s = scripted(clock, [{ kind: 'failed' }, { kind: 'ok' }]);
    const backoff = new Backoff({ baseMs: 1000, maxMs: 60_000, random: () => 0 });
    const loop = new PushLoop({ clock, logger: silentLogger(), backoff });
    loop.start({ stepSec: () => 60, round: s.round });
    await clock.advance(1000);
    expect(s.starts).toEqual([0, 500]);
    await loop.stop();
  });

  it('honours Retry-After beyond the backoff', async () => {
    const clock = new ManualClock(0);
    const s = scripted(clock, [{ kind: 'failed', retryAfterMs: 30_000 }, { kind: 'ok' }]);
    const loop = new PushLoop({
      clock,
      logger: silentLogger(),
      backoff: new Backoff({ baseMs: 1000, maxMs: 60_000, random: () => 1 }),
    });
    loop.start({ stepSec: () => 5, round: s.round });
    await clock.advance(29_999);
    expect(s.starts).toEqual([0]);
    await clock.advance(1);
    expect(s.starts).toEqual([0, 30_000]);
    await loop.stop();
  });

  it('slows down to a full step when a server refused the request (4xx) instead of hammering', async () => {
    const clock = new ManualClock(0);
    const s = scripted(clock, [{ kind: 'failed', slowDown: true }, { kind: 'failed', slowDown: true }, { kind: 'ok' }]);
    const loop = new PushLoop({
      clock,
      logger: silentLogger(),
      backoff: new Backoff({ baseMs: 1000, maxMs: 60_000, random: () => 1 }),
    });
    loop.start({ stepSec: () => 20, round: s.round });
    await clock.advance(45_000);
    expect(s.starts).toEqual([0, 20_000, 40_000]);
    await loop.stop();
  });

  it('a round that throws is a failed round, and the loop goes on', async () => {
    const clock = new ManualClock(0);
    const s = scripted(clock, [() => Promise.reject(new Error('boom')), { kind: 'ok' }]);
    const loop = new PushLoop({
      clock,
      logger: silentLogger(),
      backoff: new Backoff({ baseMs: 1000, maxMs: 60_000, random: () => 1 }),
    });
    loop.start({ stepSec: () => 5, round: s.round });
    await clock.advance(7000);
    expect(s.starts).toEqual([0, 1000, 6000]);
    await loop.stop();
  });

  it('a shorter step set between rounds takes effect for the next round', async () => {
    const clock = new ManualClock(0);
    let step = 600;
    const s = scripted(clock, [{ kind: 'ok' }]);
    const loop = new PushLoop({ clock, logger: silentLogger() });
    loop.start({ stepSec: () => step, round: s.round });
    await clock.advance(1000);
    step = 2;
    loop.stepChanged();
    await clock.advance(4500);
    expect(s.starts).toEqual([0, 2000, 4000]);
    await loop.stop();
  });

  it('stop aborts the round in flight and waits for it', async () => {
    const clock = new ManualClock(0);
    let sawAbort = false;
    const loop = new PushLoop({ clock, logger: silentLogger() });
    loop.start({
      stepSec: () => 5,
      round: async (signal) => {
        await clock.sleep(100_000, signal).catch(() => {
          sawAbort = true;
        });
        return { kind: 'failed' };
      },
    });
    await clock.advance(10);
    expect(loop.busy).toBe(true);
    await loop.stop();
    expect(sawAbort).toBe(true);
    expect(loop.busy).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('pushSoon: results go out early (at least a second after the last round), then the step resumes', async () => {
    const clock = new ManualClock(0);
    const s = scripted(clock, [{ kind: 'ok' }]);
    const loop = new PushLoop({ clock, logger: silentLogger() });
    loop.start({ stepSec: () => 60, round: s.round });
    await clock.advance(10_000);
    loop.pushSoon();
    await clock.advance(0);
    expect(s.starts).toEqual([0, 10_000]);
    // Right after a round: no sooner than the minimum gap.
    loop.pushSoon();
    await clock.advance(999);
    expect(s.starts).toHaveLength(2);
    await clock.advance(1);
    expect(s.starts).toEqual([0, 10_000, 11_000]);
    await clock.advance(60_000);
    expect(s.starts).toEqual([0, 10_000, 11_000, 71_000]);
    await loop.stop();
  });

  it('pushSoon during a round asks for another right after it; while backing off it changes nothing', async () => {
    const clock = new ManualClock(0);
    let call = 0;
    let loop: PushLoop;
    const s = scripted(clock, [
      async () => {
        if (call++ === 0) loop.pushSoon();
        return { kind: 'ok' };
      },
    ]);
    loop = new PushLoop({ clock, logger: silentLogger() });
    loop.start({ stepSec: () => 60, round: s.round });
    await clock.advance(1000);
    expect(s.starts).toEqual([0, 1000]);
    await loop.stop();

    const c2 = new ManualClock(0);
    const s2 = scripted(c2, [{ kind: 'failed' }]);
    const l2 = new PushLoop({
      clock: c2,
      logger: silentLogger(),
      backoff: new Backoff({ baseMs: 10_000, maxMs: 60_000, random: () => 1 }),
    });
    l2.start({ stepSec: () => 60, round: s2.round });
    await c2.advance(1);
    l2.pushSoon();
    await c2.advance(5000);
    expect(s2.starts).toEqual([0]);
    await l2.stop();
  });
});
