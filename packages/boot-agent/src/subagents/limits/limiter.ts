/**
 * One interface for resource limits. Three implementations, picked once by probing what this
 * host lets us write under cgroupRoot: cgroup v2, cgroup v1 (cpu + memory hierarchies), or a
 * watchdog that samples usage and kills after `hits` consecutive violations.
 */
import type { ParsedLimits } from '../run-spec.ts';

export type LimiterKind = 'cgroup-v2' | 'cgroup-v1' | 'watchdog';

export interface LimitHandle {
  /**
   * After the process exited: was it killed for a limit? (the kernel's OOM killer inside the
   * group, or the watchdog.) Reads the counters; call once per exit.
   */
  killedForLimit(exit: { signal: string | null }): boolean;
  /** Remove the group / stop sampling. The process must be gone (or be left unlimited). */
  release(): void;
}

export interface Limiter {
  readonly kind: LimiterKind;
  /** Put pid under the limits (a no-op handle when there are none). Throws with a reason. */
  attach(agent: string, pid: number, limits: ParsedLimits): LimitHandle;
}

export const noLimits: LimitHandle = { killedForLimit: () => false, release: () => {} };

export function hasLimits(l: ParsedLimits): boolean {
  return l.cpuPercent !== undefined || l.memoryBytes !== undefined;
}

/** CFS period used for cpu quotas (100 ms, the kernel default). */
export const CPU_PERIOD_US = 100_000;

/** "10%" of one CPU -> quota in microseconds per CFS period (kernel minimum 1000). */
export function cpuQuotaUs(percent: number): number {
  return Math.max(1000, Math.round((percent / 100) * CPU_PERIOD_US));
}
