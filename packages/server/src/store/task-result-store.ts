/** The task results part of the store: periodic-task runs the BasicAgents report over the hub. */
import { Type, type Static } from '@sinclair/typebox';
import { Num, NullableNum, NullableStr, Row, Str, Time } from './row-schema.ts';

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

export const TaskResultRowSchema = Row(
  {
    host: Str('the hostname the agent sent in init'),
    agentsn: NullableStr(),
    name: Str('the periodic task'),
    started: Num('unix seconds'),
    started_ms: NullableNum('unix ms'),
    duration_ms: Num(),
    retcode: Num(),
    errcode: NullableNum(),
    message: NullableStr(),
    output: Str(),
    truncated: Type.Boolean(),
    skipped: Type.Boolean(),
    received: Time('arrived'),
  },
  'one periodic-task run a BasicAgent reported',
);
export type TaskResultRow = Static<typeof TaskResultRowSchema>;

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
