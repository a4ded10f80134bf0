/**
 * The task queue part of the store (design.md §5, issue 13): tasks, their subtasks and the
 * operator's actions on them. The rules are the pure functions of ../tasks/state-machine.ts,
 * applied in SQL by each implementation's task-queue files.
 */
import type { SubtaskStateWord } from '@aspire/protocol';
import { Type, type Static } from '@sinclair/typebox';
import type { Mutation, Page, Paging } from './common.ts';
import { Num, NullableNum, NullableStr, NullableTime, Row, Str, Time, Word } from './row-schema.ts';

export interface TaskSpec {
  command: string;
  parameters: Record<string, unknown>;
  user?: string | undefined;
  agents?: string[] | undefined;
  tags?: string | undefined;
  windowStart?: number | undefined;
  windowEnd?: number | undefined;
  delayMs: number;
  batch: number;
  retryCount: number;
  retryIntervalMs: number;
  ttlMs: number;
  ttrMs: number;
  /** Lower first (default 1024). */
  priority?: number | undefined;
  /** Absolute start (unix ms): no subtask is READY before it. */
  startAt?: number | undefined;
  /** batch as a percentage of the targets (then `batch` is ignored). */
  batchPct?: number | null | undefined;
  /** Failures allowed before the task halts (default 0); null = no limit. */
  maxErrors?: number | null | undefined;
  maxErrorsPct?: number | null | undefined;
  /** Ids of tasks this one runs after (per host); the route checks they exist (unknownTargets). */
  after?: number[] | undefined;
  /** How long a BURIED subtask waits for a kick before it is FAILED. */
  buriedTtlMs?: number | undefined;
  /** Refuse the task whole when an AgentSN is unknown (nothing is made): POST /task without allow_unknown. */
  refuseUnknown?: boolean | undefined;
}

/**
 * A task made (`id`, one result per AgentSN), or, with spec.refuseUnknown, refused for the
 * unknown AgentSNs it names: `unknown` set, nothing made (`id` 0, no results).
 */
export interface CreatedTask {
  id: number;
  results: { AgentSN: string; errcode?: number }[];
  unknown?: string[];
}

export const TaskRowSchema = Row(
  {
    id: Num(),
    command: Str(),
    parameters: Type.Unsafe<Record<string, unknown>>(
      Type.Object({}, { additionalProperties: true, description: 'job fields sent to each host' }),
    ),
    user: NullableStr('name of the token that created it'),
    status: Str('RUNNING | COMPLETE | REVOKED | HALTED'),
    selector: Word<'agents' | 'tags'>('agents | tags'),
    tags: NullableStr('k=v,... of a tag task'),
    window_start: NullableTime('tag task window'),
    window_end: NullableTime('tag task window'),
    delay_ms: Num(),
    batch: Num('0 = no limit'),
    batch_pct: NullableNum('batch as a percentage of the targets (then batch is unused)'),
    retry_count: Num(),
    retry_interval_ms: Num(),
    ttl_ms: Num('0 = never expires; counts from entering READY'),
    ttr_ms: Num(),
    priority: Num('lower first (default 1024)'),
    start_at: NullableTime('no subtask READY before'),
    max_errors: NullableNum('failed subtasks allowed before the task halts (null: no limit)'),
    max_errors_pct: NullableNum('max_errors as a percentage of the targets'),
    halt_reason: NullableStr('set when max_errors halted the task'),
    after: Type.Array(Num(), { description: 'ids of the tasks it runs after (per host)' }),
    buried_ttl_ms: Num('a BURIED subtask not kicked within it is FAILED'),
    count: Num('subtasks'),
    complete: Num('subtasks in a final state'),
    gmt_create: Time('created'),
    gmt_modify: Time('last change'),
  },
  'a task (design.md §5, issue 13)',
);
export type TaskRow = Static<typeof TaskRowSchema>;

export const SubtaskRowSchema = Row(
  {
    id: Str(),
    taskid: Num(),
    agentsn: Str(),
    state: Word<SubtaskStateWord>('PENDING DELAYED READY RESERVED BURIED SUCCESS FAILED REVOKED'),
    jobid: NullableStr('job id of the current attempt on the wire'),
    attempts: Num(),
    requeues: Num('times its ttr ran out while RESERVED'),
    ready_at: Time('not before'),
    expires_at: NullableTime('not started by then: FAILED (set on admission: ttl from entering READY)'),
    reserved_at: NullableTime('last reserved (or touched)'),
    buried_at: NullableTime('BURIED since'),
    revoke_requested_at: NullableTime('revoked while RESERVED: the host is told to cancel'),
    errcode: NullableNum('agent or server code (docs/errors.md)'),
    message: NullableStr(),
    gmt_create: Time('created'),
    gmt_modify: Time('last change'),
  },
  'one host of a task',
);
export type SubtaskRow = Static<typeof SubtaskRowSchema>;

/** A RESERVED subtask whose revoke was asked and whose result has not arrived yet. */
export interface RevokedReserved {
  subtaskId: string;
  jobid: string;
  taskid: number;
}

/** AgentSNs and task ids a new task names that do not exist (checked before createTask). */
export interface UnknownTargets {
  hosts: string[];
  tasks: number[];
}

export interface TickOutcome {
  expired: number;
  promoted: number;
  requeued: number;
  buried: number;
  admitted: number;
  completedTasks: number;
}

export interface TaskStore {
  /** Record a result decided by the server itself (e.g. a job it could not build). */
  failReserved(jobid: string, errcode: number, message: string, now: number): Promise<void>;
  /** Which of these AgentSNs and task ids do not exist (POST /task refuses them with 400). */
  unknownTargets(agents: readonly string[], taskIds: readonly number[]): Promise<UnknownTargets>;
  /**
   * Unknown AgentSNs get a FAILED subtask (TASK_HOST_UNKNOWN), or with spec.refuseUnknown nothing
   * is made and they are answered (found by the same set-based insert that splits the task).
   */
  createTask(spec: TaskSpec, now: number): Promise<CreatedTask>;
  /** A task, its subtasks (optionally only those in one state) and how many are in each state. */
  getTask(
    id: number,
    filter?: { state?: string | undefined },
  ): Promise<{ task: TaskRow; subtasks: SubtaskRow[]; states: Record<string, number> } | undefined>;
  listTasks(
    filter: { status?: string | undefined; command?: string | undefined },
    paging: Paging,
  ): Promise<Page<TaskRow>>;
  /** Not RESERVED and not final -> REVOKED; RESERVED ones are marked (`cancelling`) for the host to cancel. */
  revokeTask(id: number, now: number): Promise<Mutation<{ revoked: number; cancelling?: number }>>;
  revokeSubtask(
    taskid: number,
    subtaskId: string,
    now: number,
  ): Promise<Mutation<{ revoked: number; cancelling?: number }>>;
  /** RESERVED subtasks of a host that were revoked and whose result has not arrived. */
  revokedReserved(agentsn: string): Promise<RevokedReserved[]>;
  /** BURIED and DELAYED subtasks -> READY now (the whole task, or one subtask). */
  kickTask(id: number, now: number, subtaskId?: string): Promise<Mutation<{ kicked: number }>>;
  /** Give a RESERVED subtask its full ttr again from now. */
  touchSubtask(taskid: number, subtaskId: string, now: number): Promise<Mutation<{ touched: number }>>;
  /** A FAILED, BURIED or REVOKED subtask -> PENDING and admitted again (a fresh attempt; a COMPLETE task runs again). */
  retrySubtask(taskid: number, subtaskId: string, now: number): Promise<Mutation<{ retried: number; state: string }>>;
  /** Every FAILED, BURIED or REVOKED subtask of a task (of a known host) -> PENDING and admitted; a COMPLETE or HALTED task runs again. */
  retryTask(id: number, now: number): Promise<Mutation<{ retried: number }>>;
  tick(now: number): Promise<TickOutcome>;
}
