/**
 * The task queue part of the store (seed 001, issue 13): tasks, their subtasks and the
 * operator's actions on them. The rules are the pure functions of ../tasks/state-machine.ts,
 * applied in SQL by each implementation's task-queue files.
 */
import type { SubtaskStateWord } from '@aspire/protocol';
import type { Mutation, Page, Paging } from './common.ts';

export interface TaskSpec {
  command: string;
  parameters: Record<string, unknown>;
  user?: string;
  agents?: string[];
  tags?: string;
  windowStart?: number;
  windowEnd?: number;
  delayMs: number;
  batch: number;
  retryCount: number;
  retryIntervalMs: number;
  ttlMs: number;
  ttrMs: number;
  /** Lower first (default 1024). */
  priority?: number;
  /** Absolute start (unix ms): no subtask is READY before it. */
  startAt?: number;
  /** batch as a percentage of the targets (then `batch` is ignored). */
  batchPct?: number | null;
  /** Failures allowed before the task halts (default 0); null = no limit. */
  maxErrors?: number | null;
  maxErrorsPct?: number | null;
  /** Ids of tasks this one runs after (per host); the route checks they exist (unknownTargets). */
  after?: number[];
  /** How long a BURIED subtask waits for a kick before it is FAILED. */
  buriedTtlMs?: number;
  /** Refuse the task whole when an AgentSN is unknown (nothing is made): POST /task without allow_unknown. */
  refuseUnknown?: boolean;
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

export interface TaskRow {
  id: number;
  command: string;
  parameters: Record<string, unknown>;
  user: string | null;
  status: string;
  selector: 'agents' | 'tags';
  tags: string | null;
  window_start: number | null;
  window_end: number | null;
  delay_ms: number;
  batch: number;
  retry_count: number;
  retry_interval_ms: number;
  ttl_ms: number;
  ttr_ms: number;
  count: number;
  complete: number;
  priority: number;
  start_at: number | null;
  batch_pct: number | null;
  max_errors: number | null;
  max_errors_pct: number | null;
  /** Why the task halted (max_errors exceeded), or null. */
  halt_reason: string | null;
  /** Ids of the tasks it runs after. */
  after: number[];
  buried_ttl_ms: number;
  gmt_create: number;
  gmt_modify: number;
}

export interface SubtaskRow {
  id: string;
  taskid: number;
  agentsn: string;
  state: SubtaskStateWord;
  jobid: string | null;
  attempts: number;
  requeues: number;
  ready_at: number;
  expires_at: number | null;
  reserved_at: number | null;
  errcode: number | null;
  message: string | null;
  buried_at: number | null;
  /** A revoke asked while RESERVED: the host is told to cancel (docs/server.md). */
  revoke_requested_at: number | null;
  gmt_create: number;
  gmt_modify: number;
}

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
    filter?: { state?: string },
  ): Promise<{ task: TaskRow; subtasks: SubtaskRow[]; states: Record<string, number> } | undefined>;
  listTasks(filter: { status?: string; command?: string }, paging: Paging): Promise<Page<TaskRow>>;
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
