/**
 * Samples of the periodic dashboard (hosts online and total) since the server started, for the
 * console's "hosts online over time" chart. Bounded: a ring of `capacity` samples (at the
 * default 30 s dashboard interval, 2880 samples are a day); answers are thinned to `maxPoints`.
 * Kept in memory on purpose: it is a view of the statistics job, not data to migrate.
 */
import type { Dashboard } from '../store/store.ts';

export interface HistorySample {
  /** computedAt of the dashboard, unix ms UTC */
  t: number;
  online: number;
  total: number;
}

export class DashboardHistory {
  private readonly ring: HistorySample[] = [];
  private next = 0;
  private lastT = -1;

  constructor(private readonly capacity = 2880) {
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError('capacity must be an integer >= 2');
  }

  /** Record a dashboard; the same computation seen twice is recorded once. */
  record(d: Dashboard): void {
    if (d.computedAt <= this.lastT) return;
    this.lastT = d.computedAt;
    const s = { t: d.computedAt, online: d.hosts.online, total: d.hosts.total };
    if (this.ring.length < this.capacity) this.ring.push(s);
    else {
      this.ring[this.next] = s;
      this.next = (this.next + 1) % this.capacity;
    }
  }

  /** Oldest first, at most maxPoints evenly spread, always ending with the newest sample. */
  samples(maxPoints = 360): HistorySample[] {
    const all =
      this.ring.length < this.capacity
        ? this.ring.slice()
        : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    if (all.length <= maxPoints || maxPoints < 2) return all;
    const out: HistorySample[] = [];
    const step = (all.length - 1) / (maxPoints - 1);
    for (let i = 0; i < maxPoints; i++) out.push(all[Math.round(i * step)]!);
    return out;
  }
}
