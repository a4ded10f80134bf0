/**
 * The seam between the BootAgent's control loop (registration, status push, job journal,
 * config job) and its sub-agent manager (install/upgrade/uninstall/start/stop/restart,
 * supervision, limits). The loop owns the wire; the manager owns the processes.
 */
import type { AgentEvent, AgentReport, EventKind, SubAgentJob } from '@aspire/protocol';
import type { Clock } from '@aspire/agent-core';
import type { Logger } from 'pino';

/** Supervision numbers (design.md §3 "Supervision"); every one configurable in boot.json. */
export interface SupervisionConfig {
  /** How often each sub-agent is checked (pid alive, `check` command). Default 60 s. */
  checkIntervalSec: number;
  /** An abnormal exit is restarted no sooner than this after the previous start. Default 180 s. */
  restartHoldSec: number;
  /** An abnormal exit within this long of a start is a strike; a run this long clears them. Default 900 s. */
  strikeWindowSec: number;
  /** Consecutive strikes that make a sub-agent fatal. Default 3. */
  maxStrikes: number;
  /** Default stop timeout before SIGKILL when the run spec has none. Default 10 s. */
  stopTimeoutSec: number;
  /** An upgraded sub-agent must stay up this long or the upgrade is rolled back. Default 30 s. */
  upgradeHealthySec: number;
  /** Largest package download accepted. Default 512 MiB. */
  downloadMaxBytes: number;
  /** Watchdog sampling interval when cgroups cannot be written. Default 5 s. */
  watchdogIntervalSec: number;
  /** Where cgroups are created: a v2 mount or a v1 root holding cpu/ and memory/. Default /sys/fs/cgroup. */
  cgroupRoot: string;
}

/** Where the manager emits events; the loop journals them and sends them on the next push. */
export interface EventSink {
  emit(kind: EventKind, message: string, opts?: { agent?: string; data?: Record<string, unknown> }): void;
}

export interface JobOutcome {
  errcode: number;
  message: string;
  /**
   * The BootAgent is stopping and the job is left for its next start to finish (an upgrade in
   * its health window): the journal keeps it `started` instead of recording this outcome.
   */
  resumeLater?: boolean;
}

/** A job cut short by a BootAgent restart that the manager finishes now (an upgrade marker). */
export interface ResumedJob {
  jobId: string;
  outcome: Promise<JobOutcome>;
}

/** What the control loop needs from the sub-agent side. */
export interface SubAgentManager {
  /** Re-adopt running sub-agents from state and pidfiles; start those that should run. */
  start(): Promise<void>;
  /**
   * Finish the jobs a BootAgent restart cut short (upgrades, from their markers), one at a time
   * before any new job; after start(). Each outcome is the job's result.
   */
  resumeInterrupted?(signal: AbortSignal): ResumedJob[];
  /** Stop supervising. Sub-agents keep running (they survive a BootAgent restart). */
  stop(): Promise<void>;
  /**
   * Run one sub-agent job to completion. Never throws: failures are outcomes with codes.
   * `signal` aborts on the BootAgent's stop or the job's revoke (download, install steps,
   * commands stop); `stop`, when given, only on the stop (an upgrade's health window heeds only it).
   */
  handleJob(job: SubAgentJob, signal: AbortSignal, stop?: AbortSignal): Promise<JobOutcome>;
  /** The `agents[]` of the next status push. */
  reports(): AgentReport[];
}

export interface SubAgentManagerDeps {
  clock: Clock;
  /** The root logger: the manager adds its own `component` binding (binding it here too would log the key twice). */
  logger: Logger;
  events: EventSink;
  /** State dir for sub-agents: versions side by side, run state, pidfiles. */
  stateDir: string;
  config: SupervisionConfig;
  /** Name of the parent cgroup the per-agent groups go under. Default "aspire"; tests use a unique one. */
  cgroupParent?: string;
  /** rpm --root/--dbpath/binary for .rpm sub-agents (tests use a private database). Default: the host's rpm. */
  rpm?: { root?: string; dbpath?: string; bin?: string };
  /** CA file (PEM) trusted for https package downloads besides the system CAs (boot.json `ca`). */
  caFile?: string;
}

export type { AgentEvent };
