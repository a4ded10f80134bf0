// The metrics module alone: fleet aggregates of self-reports (expiry by the clock), the timed
// store proxy, and the text exposition parsed back with a Prometheus text parser.
import { describe, expect, it } from 'vitest';
import { ManualClock, PromMetrics } from '@aspire/testing';
import { FleetSelfReports } from '../src/metrics/fleet-self-reports.ts';
import { instrumentStore } from '../src/metrics/instrument-store.ts';
import { ServerMetrics } from '../src/metrics/server-metrics.ts';

const report = (rssBytes: number, eventQueue = 0) => ({
  rssBytes,
  cpuSeconds: 1.5,
  jobQueue: 1,
  resultQueue: 0,
  eventQueue,
});

describe('FleetSelfReports', () => {
  it('sums and maxes the newest report per host and drops a report once it is stale', () => {
    const fleet = new FleetSelfReports();
    fleet.record('a', report(100), 1_000, 30_000);
    fleet.record('b', report(300, 7), 1_000, 60_000);
    fleet.record('a', report(200), 2_000, 30_000); // replaces a's first report
    expect(fleet.aggregate(3_000)).toMatchObject({
      hosts: 2,
      rssBytes: { sum: 500, max: 300 },
      eventQueue: { sum: 7, max: 7 },
      jobQueue: { sum: 2, max: 1 },
    });
    expect(fleet.aggregate(40_000)).toMatchObject({ hosts: 1, rssBytes: { sum: 300, max: 300 } });
    expect(fleet.aggregate(70_000)).toMatchObject({ hosts: 0, rssBytes: { sum: 0, max: 0 } });
  });
});

describe('instrumentStore', () => {
  it('times every call under its method name, passes results and errors through', async () => {
    const clock = new ManualClock();
    const seen: [string, number][] = [];
    const store = {
      factor: 2,
      async double(n: number) {
        await clock.advance(250);
        return n * this.factor;
      },
      async broken(): Promise<never> {
        throw new Error('disk full');
      },
    };
    const timed = instrumentStore(store, clock, (op, s) => seen.push([op, s]));
    expect(await timed.double(21)).toBe(42);
    await expect(timed.broken()).rejects.toThrow('disk full');
    expect(timed.factor).toBe(2);
    expect(seen).toEqual([
      ['double', 0.25],
      ['broken', 0],
    ]);
  });
});

describe('ServerMetrics', () => {
  it('exposes counters, histograms, counts from the store and fleet aggregates in the text format', async () => {
    const clock = new ManualClock();
    const m = new ServerMetrics(clock, { defaultMetrics: false });
    m.countFrom({
      metricCounts: async () => ({ hosts: { online: 3, offline: 1 }, subtasks: { SUCCESS: 5, FAILED: 2 } }),
    });
    m.hubFrom(() => 4);
    m.statusPush(0.004, 'a', report(1000, 2), 30_000);
    m.statusPush(0.02, 'b', report(3000), 30_000);
    m.statusPush(0.001, 'c', undefined, 30_000);
    m.storeCall('ingestStatus', 0.002);
    await m.timeFanOut(() => clock.advance(1500));
    const p = new PromMetrics(await m.render());
    expect(p.value('aspire_hosts', { status: 'online' })).toBe(3);
    expect(p.value('aspire_hosts', { status: 'registered' })).toBe(0);
    expect(p.value('aspire_subtasks', { state: 'FAILED' })).toBe(2);
    expect(p.value('aspire_subtasks', { state: 'READY' })).toBe(0);
    expect(p.value('aspire_hub_connections')).toBe(4);
    expect(p.value('aspire_status_pushes_total')).toBe(3);
    expect(p.count('aspire_status_push_duration_seconds')).toBe(3);
    expect(p.count('aspire_fanout_duration_seconds')).toBe(1);
    expect(Number(p.sample('aspire_fanout_duration_seconds').sum)).toBe(1.5);
    expect(p.count('aspire_store_operation_duration_seconds', { operation: 'ingestStatus' })).toBe(1);
    expect(p.value('aspire_fleet_boot_reporting_hosts')).toBe(2);
    expect(p.value('aspire_fleet_boot_rss_bytes', { aggregate: 'sum' })).toBe(4000);
    expect(p.value('aspire_fleet_boot_rss_bytes', { aggregate: 'max' })).toBe(3000);
    expect(p.value('aspire_fleet_boot_queue_length', { queue: 'events', aggregate: 'max' })).toBe(2);
    expect(p.family('aspire_status_pushes_total').type).toBe('COUNTER');
  });
});
