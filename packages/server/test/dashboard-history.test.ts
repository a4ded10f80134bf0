// DashboardHistory: the bounded ring behind the console's "hosts online over time" chart.
import { describe, expect, it } from 'vitest';
import { DashboardHistory } from '../src/console-api/dashboard-history.ts';
import type { Dashboard } from '../src/store/store.ts';

const dash = (t: number, online: number, total = 10): Dashboard => ({
  hosts: { total, online, offline: total - online, registered: 0 },
  agents: [],
  computedAt: t,
});

describe('DashboardHistory', () => {
  it('records each computation once, oldest first', () => {
    const h = new DashboardHistory(10);
    h.record(dash(1000, 1));
    h.record(dash(1000, 1)); // the same computation seen again
    h.record(dash(900, 5)); // older than the last: ignored
    h.record(dash(2000, 2));
    expect(h.samples()).toEqual([
      { t: 1000, online: 1, total: 10 },
      { t: 2000, online: 2, total: 10 },
    ]);
  });

  it('keeps only the newest `capacity` samples when full', () => {
    const h = new DashboardHistory(3);
    for (let i = 1; i <= 7; i++) h.record(dash(i * 1000, i));
    expect(h.samples().map((s) => s.online)).toEqual([5, 6, 7]);
  });

  it('thins an answer to maxPoints, keeping the first and the newest', () => {
    const h = new DashboardHistory(100);
    for (let i = 0; i < 100; i++) h.record(dash(i + 1, i));
    const s = h.samples(10);
    expect(s).toHaveLength(10);
    expect(s[0]!.online).toBe(0);
    expect(s[9]!.online).toBe(99);
    for (let i = 1; i < s.length; i++) expect(s[i]!.t).toBeGreaterThan(s[i - 1]!.t);
  });

  it('refuses a capacity that cannot hold a line', () => {
    expect(() => new DashboardHistory(1)).toThrow(RangeError);
  });
});
