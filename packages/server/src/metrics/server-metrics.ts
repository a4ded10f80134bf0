/**
 * The server's Prometheus metrics (GET /metrics, docs/metrics.md): one prom-client registry per
 * server (never the global one, so several servers in one process stay apart). Counters and
 * histograms are fed where things happen (status push, Polaris fan-out, store calls); gauges
 * (hosts by status, subtasks by state, hub connections, fleet aggregates) are read at scrape.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from '@aspire/agent-core';
import { HostStatus, SubtaskState, type SelfReport } from '@aspire/protocol';
import { BucketHistogram } from './bucket-histogram.ts';
import { FleetSelfReports } from './fleet-self-reports.ts';

/** What the scrape reads from the store. */
export interface MetricCountsSource {
  metricCounts?(): Promise<{ hosts: Record<string, number>; subtasks: Record<string, number> }>;
}

/** Every status and state is exported, 0 when none: an alert on a series needs it to exist. */
const HOST_STATUSES: readonly string[] = [
  HostStatus.ONLINE,
  HostStatus.OFFLINE,
  HostStatus.REGISTERED,
  HostStatus.DELETED,
];
const SUBTASK_STATES: readonly string[] = Object.values(SubtaskState);

export class ServerMetrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;
  readonly fleet = new FleetSelfReports();
  private counts: MetricCountsSource | undefined;
  private hubConnections: (() => number) | undefined;
  private readonly statusPushes: Counter;
  // Observed on every push and every store call: BucketHistogram, not prom-client's (its observe
  // checks and hashes a label object per call).
  private readonly statusPushSeconds: BucketHistogram;
  private readonly fanOutSeconds: Histogram;
  private readonly storeSeconds: BucketHistogram;

  constructor(
    private readonly clock: Pick<Clock, 'now' | 'monotonic'>,
    opts: { defaultMetrics?: boolean } = {},
  ) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.statusPushes = new Counter({
      name: 'aspire_status_pushes_total',
      help: 'Status pushes answered 2xx',
      registers,
    });
    this.statusPushSeconds = new BucketHistogram(
      'aspire_status_push_duration_seconds',
      'Time to handle an authenticated status push (store, jobs, reply)',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      undefined,
      registers,
    );
    this.fanOutSeconds = new Histogram({
      name: 'aspire_fanout_duration_seconds',
      help: 'Time from a Polaris request to the last host reply (or its deadline)',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.storeSeconds = new BucketHistogram(
      'aspire_store_operation_duration_seconds',
      'Store (SQLite) call latency by operation',
      [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
      'operation',
      registers,
    );
    const self = this;
    new Gauge({
      name: 'aspire_hosts',
      help: 'Hosts by status',
      labelNames: ['status'],
      registers,
      async collect() {
        const c = await self.counts?.metricCounts?.();
        if (!c) return;
        for (const s of new Set([...HOST_STATUSES, ...Object.keys(c.hosts)])) this.set({ status: s }, c.hosts[s] ?? 0);
      },
    });
    new Gauge({
      name: 'aspire_subtasks',
      help: 'Subtasks by state',
      labelNames: ['state'],
      registers,
      async collect() {
        const c = await self.counts?.metricCounts?.();
        if (!c) return;
        for (const s of new Set([...SUBTASK_STATES, ...Object.keys(c.subtasks)]))
          this.set({ state: s }, c.subtasks[s] ?? 0);
      },
    });
    new Gauge({
      name: 'aspire_hub_connections',
      help: 'BasicAgents connected to the command hub (0 without a hub)',
      registers,
      collect() {
        this.set(self.hubConnections?.() ?? 0);
      },
    });
    new Gauge({
      name: 'aspire_fleet_boot_reporting_hosts',
      help: 'Hosts whose BootAgent self-report is current',
      registers,
      collect() {
        this.set(self.fleet.aggregate(self.clock.now()).hosts);
      },
    });
    const fleetGauge = (name: string, help: string, field: 'rssBytes' | 'cpuSeconds') =>
      new Gauge({
        name,
        help,
        labelNames: ['aggregate'],
        registers,
        collect() {
          const a = self.fleet.aggregate(self.clock.now())[field];
          this.set({ aggregate: 'sum' }, a.sum);
          this.set({ aggregate: 'max' }, a.max);
        },
      });
    fleetGauge('aspire_fleet_boot_rss_bytes', "BootAgents' resident memory over the fleet (sum, max)", 'rssBytes');
    fleetGauge(
      'aspire_fleet_boot_cpu_seconds',
      "BootAgents' CPU time since they started over the fleet (sum, max)",
      'cpuSeconds',
    );
    new Gauge({
      name: 'aspire_fleet_boot_queue_length',
      help: "BootAgents' queues over the fleet: jobs to run, results and events to push (sum, max)",
      labelNames: ['queue', 'aggregate'],
      registers,
      collect() {
        const a = self.fleet.aggregate(self.clock.now());
        for (const [queue, v] of [
          ['jobs', a.jobQueue],
          ['results', a.resultQueue],
          ['events', a.eventQueue],
        ] as const) {
          this.set({ queue, aggregate: 'sum' }, v.sum);
          this.set({ queue, aggregate: 'max' }, v.max);
        }
      },
    });
  }

  /** Where hosts-by-status and subtasks-by-state are counted at scrape. */
  countFrom(source: MetricCountsSource): void {
    this.counts = source;
  }

  /** The command hub's live connection count. */
  hubFrom(connected: () => number): void {
    this.hubConnections = connected;
  }

  statusPush(seconds: number, agentsn: string, self: SelfReport | undefined, validMs: number): void {
    this.statusPushes.inc();
    this.statusPushSeconds.observe('', seconds);
    if (self) this.fleet.record(agentsn, self, this.clock.now(), validMs);
  }

  /** Run one Polaris fan-out and observe how long it took (answered or failed). */
  async timeFanOut<T>(run: () => Promise<T>): Promise<T> {
    const started = this.clock.monotonic();
    try {
      return await run();
    } finally {
      this.fanOutSeconds.observe(Math.max(0, this.clock.monotonic() - started) / 1000);
    }
  }

  storeCall(operation: string, seconds: number): void {
    this.storeSeconds.observe(operation, seconds);
  }

  /** The text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
