/**
 * Status ingestion, a named unit of the store: one BootAgent push (POST /agent/status) is one
 * transaction that updates the host, stores its events, applies its job results and reserves
 * the jobs its answer carries. The task rules it applies are those of ../tasks/state-machine.ts,
 * called through the task queue part of each implementation, not written here.
 */
import type { AgentEvent, AgentReport, JobResult } from '@aspire/protocol';
import type { RevokedReserved } from './task-store.ts';

export interface StatusInput {
  agentsn: string;
  hostname: string;
  ip: string;
  version: string;
  os: string;
  arch: string;
  uptime: number;
  step: number;
  agents: AgentReport[];
  jobs: JobResult[];
  events: AgentEvent[];
  eventsDropped?: number | undefined;
  tags?: string | undefined;
  now: number;
}

/** A subtask reserved for a host: the route turns it into a job on the wire. */
export interface ReservedJob {
  subtaskId: string;
  jobid: string;
  taskid: number;
  command: string;
  parameters: Record<string, unknown>;
}

export interface StatusOutcome {
  reserved: ReservedJob[];
  host: { os: string; arch: string };
  eventsStored: number;
  resultsRecorded: number;
  /**
   * The host's revoked RESERVED subtasks (TaskStore.revokedReserved), when the store read them
   * with the push (SQLite's quiet path does, in the read that tells the push is quiet); absent:
   * the caller asks revokedReserved.
   */
  revoked?: RevokedReserved[];
}

export interface StatusIngestion {
  ingestStatus(input: StatusInput): Promise<StatusOutcome>;
}
