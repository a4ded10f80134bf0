import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { longTimeout, MAX_TIMER_DELAY_MS, realClock } from '../src/clock.ts';

const DAY = 86_400_000;

// vitest's fake timers behave as Node's do: a delay above 2^31-1 ms fires after 1 ms.
describe('realClock.setTimeout on platform timers (fake timers, Node overflow semantics)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance', 'hrtime'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a 30-day timer does not fire early: not after 1 ms, not after 2^31-1 ms, exactly at 30 days', () => {
    const fired: number[] = [];
    const start = performance.now();
    realClock.setTimeout(() => fired.push(performance.now() - start), 30 * DAY);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(30 * DAY - MAX_TIMER_DELAY_MS - 2);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([30 * DAY]);
    vi.advanceTimersByTime(365 * DAY);
    expect(fired).toHaveLength(1);
  });

  it('a timer of a year or of Infinity can be cancelled between steps; short ones are unchanged', () => {
    const fired: string[] = [];
    const year = realClock.setTimeout(() => fired.push('year'), 365 * DAY);
    realClock.setTimeout(() => fired.push('forever'), Infinity);
    realClock.setTimeout(() => fired.push('short'), 50);
    realClock.setTimeout(() => fired.push('negative'), -5);
    vi.advanceTimersByTime(50);
    expect(fired).toEqual(['negative', 'short']);
    vi.advanceTimersByTime(100 * DAY);
    year.cancel();
    vi.advanceTimersByTime(400 * DAY);
    expect(fired).toEqual(['negative', 'short']);
  });

  it('a platform timer that wakes before the monotonic target is re-armed for the rest', () => {
    const fired: number[] = [];
    let lag = 0;
    const start = performance.now();
    longTimeout(
      () => fired.push(performance.now() - start),
      1000,
      () => performance.now() - lag,
    );
    lag = 300; // the monotonic clock reads 300 ms behind the platform timer's idea of time
    vi.advanceTimersByTime(1000);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(299);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([1300]);
  });
});
