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

/**
 * Limits made ready for a process that does not exist yet. A new sub-agent joins its groups
 * BEFORE its program runs (the runner writes its pid to every `procsFiles` entry while the
 * launcher is held), so nothing it allocates or forks is ever charged outside its group.
 */
export interface Placement {
  /** cgroup.procs files the new process must join before exec (empty: nothing to join). */
  readonly procsFiles: readonly string[];
  /** The process started and joined `procsFiles`: its handle. */
  bind(pid: number): LimitHandle;
  /** The start failed before bind: remove what prepare created. */
  cancel(): void;
}

export interface Limiter {
  readonly kind: LimiterKind;
  /** Create and configure the groups for a process about to start. Throws with a reason. */
  prepare(agent: string, limits: ParsedLimits): Placement;
  /**
   * Put an already running pid under the limits (adoption, a followed daemon); a no-op handle
   * when there are none. Throws with a reason.
   */
  attach(agent: string, pid: number, limits: ParsedLimits): LimitHandle;
  /**
   * The agent is uninstalled: remove its groups (kept when a task is still in one). True when
   * none is left.
   */
  forget(agent: string): boolean;
}

export const noLimits: LimitHandle = { killedForLimit: () => false, release: () => {} };

/** Nothing to join before exec: the handle is made after the start (watchdog, no limits). */
export function placeAfterStart(attach: (pid: number) => LimitHandle): Placement {
  return { procsFiles: [], bind: attach, cancel: () => {} };
}

export function hasLimits(l: ParsedLimits): boolean {
  return l.cpuPercent !== undefined || l.memoryBytes !== undefined;
}

/** CFS period used for cpu quotas (100 ms, the kernel default). */
export const CPU_PERIOD_US = 100_000;

/** "10%" of one CPU -> quota in microseconds per CFS period (kernel minimum 1000). */
export function cpuQuotaUs(percent: number): number {
  return Math.max(1000, Math.round((percent / 100) * CPU_PERIOD_US));
}
