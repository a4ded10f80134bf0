/**
 * The BootAgents' self-reports (status push `self`: RSS, CPU, queue lengths), the newest per
 * host, kept in memory and aggregated over the fleet for /metrics. A host's report counts until
 * it would be offline (its step times the missed steps the offline sweep allows); then it is
 * dropped, so a fleet that shrinks does not keep its old memory in the sums.
 */
import type { SelfReport } from '@aspire/protocol';

export interface FleetAggregate {
  /** Hosts whose current report is counted. */
  hosts: number;
  rssBytes: { sum: number; max: number };
  cpuSeconds: { sum: number; max: number };
  jobQueue: { sum: number; max: number };
  resultQueue: { sum: number; max: number };
  eventQueue: { sum: number; max: number };
}

type Field = 'rssBytes' | 'cpuSeconds' | 'jobQueue' | 'resultQueue' | 'eventQueue';
const FIELDS: readonly Field[] = ['rssBytes', 'cpuSeconds', 'jobQueue', 'resultQueue', 'eventQueue'];

export class FleetSelfReports {
  private readonly latest = new Map<string, { report: SelfReport; expires: number }>();

  /** Keep a host's report until `now + validMs` (unix ms). */
  record(agentsn: string, report: SelfReport, now: number, validMs: number): void {
    this.latest.set(agentsn, { report, expires: now + validMs });
  }

  forget(agentsn: string): void {
    this.latest.delete(agentsn);
  }

  aggregate(now: number): FleetAggregate {
    const out = {
      hosts: 0,
      rssBytes: { sum: 0, max: 0 },
      cpuSeconds: { sum: 0, max: 0 },
      jobQueue: { sum: 0, max: 0 },
      resultQueue: { sum: 0, max: 0 },
      eventQueue: { sum: 0, max: 0 },
    };
    for (const [agentsn, { report, expires }] of this.latest) {
      if (expires <= now) {
        this.latest.delete(agentsn);
        continue;
      }
      out.hosts++;
      for (const f of FIELDS) {
        out[f].sum += report[f];
        out[f].max = Math.max(out[f].max, report[f]);
      }
    }
    return out;
  }
}
