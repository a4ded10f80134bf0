/** The task results part of the store: periodic-task runs the BasicAgents report over the hub. */

/** One periodic-task run a BasicAgent reported over the command hub (task.result frame). */
export interface TaskResultInput {
  /** Hostname the agent sent in init; results are filed under it. */
  host: string;
  agentsn?: string;
  name: string;
  started: number;
  started_ms?: number;
  duration_ms: number;
  retcode: number;
  errcode?: number;
  message?: string;
  output: string;
  truncated?: boolean;
  skipped?: boolean;
  /** Arrival (unix ms). */
  received: number;
}

export interface TaskResultRow {
  host: string;
  agentsn: string | null;
  name: string;
  started: number;
  started_ms: number | null;
  duration_ms: number;
  retcode: number;
  errcode: number | null;
  message: string | null;
  output: string;
  truncated: boolean;
  skipped: boolean;
  received: number;
}

export interface TaskResultFilter {
  /** A hostname or an AgentSN. */
  host: string;
  name?: string;
  /** The newest `limit` rows are returned, oldest first. */
  limit: number;
}

export interface TaskResultStore {
  /** Store one periodic-task result and keep only the newest `keep` of its (host, name). */
  addTaskResult(r: TaskResultInput, keep: number): Promise<void>;
  listTaskResults(filter: TaskResultFilter): Promise<TaskResultRow[]>;
  /** Delete task results that arrived before `before` (ms); returns how many. */
  pruneTaskResults(before: number): Promise<number>;
}
