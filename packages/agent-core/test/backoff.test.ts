import { Backoff } from '@aspire/agent-core';
import { describe, expect, it } from 'vitest';

describe('Backoff', () => {
  it('doubles from the base up to the max, jittered into the upper half', () => {
    const low = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0 });
    const high = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 1 });
    expect([1, 2, 3, 4, 5, 6].map(() => low.next())).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 6].map(() => high.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(low.attempts).toBe(6);
  });

  it('starts over after reset and never overflows after many failures', () => {
    const b = new Backoff({ baseMs: 1000, maxMs: 60_000, random: () => 0.5 });
    for (let i = 0; i < 200; i++) expect(b.next()).toBeLessThanOrEqual(60_000);
    expect(b.attempts).toBe(200);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(750);
  });

  it('with the default random stays inside [exp/2, exp]', () => {
    const b = new Backoff({ baseMs: 1000, maxMs: 1000 });
    for (let i = 0; i < 50; i++) {
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });
});
