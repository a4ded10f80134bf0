/** Sub-agent status words on the wire, spelled as design.md §3 spells them ("stoped"). */
export const AgentStatus = {
  STOPPED: 'stoped',
  RUNNING: 'running',
  FATAL: 'fatal',
  KILLED: 'killed',
} as const;
export type AgentStatusWord = (typeof AgentStatus)[keyof typeof AgentStatus];
export const AGENT_STATUS_WORDS: readonly AgentStatusWord[] = Object.values(AgentStatus);

/** Host status as the server keeps it (design.md §5 hosts.status, console 3.2). */
export const HostStatus = {
  UNKNOWN: 'unknown',
  REGISTERED: 'registered',
  ONLINE: 'online',
  OFFLINE: 'offline',
  DELETED: 'deleted',
} as const;
export type HostStatusWord = (typeof HostStatus)[keyof typeof HostStatus];

/** Subtask states of design.md §5's task queue (beanstalk-like). */
export const SubtaskState = {
  PENDING: 'PENDING',
  DELAYED: 'DELAYED',
  READY: 'READY',
  RESERVED: 'RESERVED',
  SUCCESS: 'SUCCESS',
  FAILED: 'FAILED',
  BURIED: 'BURIED',
  REVOKED: 'REVOKED',
} as const;
export type SubtaskStateWord = (typeof SubtaskState)[keyof typeof SubtaskState];
export const FINAL_SUBTASK_STATES: readonly SubtaskStateWord[] = ['SUCCESS', 'FAILED', 'REVOKED'];

/** Job actions a status reply may carry (design.md §3). */
export const JOB_ACTIONS = ['install', 'upgrade', 'uninstall', 'restart', 'stop', 'start', 'config'] as const;
export type JobAction = (typeof JOB_ACTIONS)[number];
export const SUB_AGENT_ACTIONS = ['install', 'upgrade', 'uninstall', 'restart', 'stop', 'start'] as const;
export type SubAgentAction = (typeof SUB_AGENT_ACTIONS)[number];

/**
 * The BootAgent's own name in agents[] and package names. It is not a sub-agent: a job that
 * names it as one is refused (it upgrades through its own package, and its unit restarts it).
 */
export const BOOT_AGENT_NAME = 'BootAgent';

/** Event kinds a BootAgent reports (design.md §3). */
export const EVENT_KINDS = [
  'exit',
  'strike',
  'fatal',
  'killed',
  'rollback',
  'started',
  'stopped',
  'installed',
  'upgraded',
  'uninstalled',
  'adopted',
  'events_dropped',
  /** A job the host policy file refused (data: errcode, rule). */
  'refused',
  /** The state disk is full (ENOSPC/EDQUOT): state is kept in memory and saved again later (data: what, error). */
  'disk_full',
  /** Space returned: what was kept in memory is on disk again (data: what, fullForSec). */
  'disk_recovered',
  /** A running job the server revoked was aborted (data: jobId, action, errcode JOB_REVOKED). */
  'revoked',
  /** The host converged to the server's desired-state policy (data: hash; docs/lifecycle.md). */
  'policy_applied',
  /** A full check of an unchanged policy found the host off it and repaired it (data: hash, repaired[]). */
  'policy_drift',
  /** The policy could not be pulled, verified or applied (data: hash, error); retried later. */
  'policy_failed',
  /** A step of the BootAgent's own upgrade (data: jobId, step, from, to; docs/lifecycle.md). */
  'self_upgrade',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];
