/**
 * Subtask state machine (design.md §5, beanstalk-like; issue 13). Pure functions: the
 * store applies what they decide, so the SQLite store and a later PostgreSQL store share one set
 * of rules. The full diagram with who triggers each transition is in docs/server.md "Task states".
 *
 *   PENDING --admit (batch slot, dependencies met)--> DELAYED --ready_at/kick--> READY --reserve--> RESERVED --ok--> SUCCESS
 *      |                                                 ^                           ^                  |  |  `--fail, retries left--> DELAYED/READY
 *      |                                                 |                           `--ttr ran out----'  `--fail, retries gone--> BURIED
 *      |                                                                                                   `--ttr ran out too often--> BURIED
 *      |  BURIED --kick--> READY;  BURIED --buried ttl--> FAILED;  DELAYED/READY --ttl (from READY)--> FAILED
 *      `--dependency failed--> FAILED;  not RESERVED/final --revoke or halt--> REVOKED;  RESERVED --revoke--> (cancel) REVOKED
 */
import { ErrorCode, ErrorMessage, SubtaskState, type SubtaskStateWord } from '@aspire/protocol';

export interface RetryPolicy {
  retryCount: number;
  retryIntervalMs: number;
}

export interface ResultDecision {
  state: SubtaskStateWord;
  readyAt?: number;
  errcode: number;
  message: string;
}

/** What a reported job result does to a subtask that has had `attempts` attempts (this one included). */
export function decideResult(
  attempts: number,
  policy: RetryPolicy,
  errcode: number,
  message: string,
  now: number,
): ResultDecision {
  if (errcode === ErrorCode.OK) return { state: SubtaskState.SUCCESS, errcode, message };
  if (attempts <= policy.retryCount) {
    // The failed attempt goes back to the queue: DELAYED for the interval, or READY at once.
    const state = policy.retryIntervalMs > 0 ? SubtaskState.DELAYED : SubtaskState.READY;
    return { state, readyAt: now + policy.retryIntervalMs, errcode, message };
  }
  if (policy.retryCount > 0) {
    // Retries exhausted: BURIED as in the design's diagram (kick revives, the buried ttl fails it).
    return {
      state: SubtaskState.BURIED,
      errcode: ErrorCode.TASK_RETRIES_EXHAUSTED,
      message: `${ErrorMessage.TASK_RETRIES_EXHAUSTED} (${attempts} attempts); last: ${errcode} ${message}`,
    };
  }
  return { state: SubtaskState.FAILED, errcode, message };
}

/** The result of a RESERVED subtask whose revoke was asked: it finished (SUCCESS) or was stopped (REVOKED). */
export function decideRevokedResult(errcode: number, message: string): ResultDecision {
  if (errcode === ErrorCode.OK) return { state: SubtaskState.SUCCESS, errcode, message };
  return { state: SubtaskState.REVOKED, errcode, message };
}

/** A count given as a number or as a percentage of `total` (rounded up, at least 1 when the percentage is above 0). */
export function resolveCount(count: number, pct: number | null | undefined, total: number): number {
  if (pct === null || pct === undefined) return count;
  return pct > 0 ? Math.max(1, Math.ceil((total * pct) / 100)) : 0;
}

/** True when a task's errors exceed its max_errors (null = no limit). */
export function exceedsMaxErrors(errors: number, maxErrors: number | null): boolean {
  return maxErrors !== null && errors > maxErrors;
}

/** Parse "10%" or 10 into a count or a percentage; undefined for a bad value. */
export function parseCountOrPercent(v: number | string): { count: number; pct: number | null } | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? { count: v, pct: null } : undefined;
  const m = /^(\d{1,3}(?:\.\d{1,2})?)%$/.exec(v);
  if (!m) return undefined;
  const pct = Number(m[1]);
  return pct <= 100 ? { count: 0, pct } : undefined;
}

/** Where an admitted PENDING subtask goes: DELAYED until its ready time, else READY. */
export function admitState(readyAt: number, now: number): SubtaskStateWord {
  return readyAt > now ? SubtaskState.DELAYED : SubtaskState.READY;
}

/**
 * How a new AgentSN task's subtasks are inserted: admitted at once (DELAYED until their ready
 * time, else READY; ttl counted from then) when neither a batch smaller than the task nor
 * dependencies hold any back, which spares a second pass over every row; else PENDING, for the
 * admission pass.
 */
export function initialAdmission(
  task: { batch: number; batch_pct: number | null; after: readonly number[]; ttl_ms: number },
  readyAt: number,
  targets: number,
  now: number,
): { state: SubtaskStateWord; expiresAt: number | null } {
  const batch = resolveCount(task.batch, task.batch_pct, targets);
  if (task.after.length > 0 || (batch > 0 && batch < targets)) return { state: SubtaskState.PENDING, expiresAt: null };
  return {
    state: readyAt > now ? SubtaskState.DELAYED : SubtaskState.READY,
    expiresAt: task.ttl_ms > 0 ? readyAt + task.ttl_ms : null,
  };
}

/** How many PENDING subtasks a task may admit now (batch 0 = no limit). */
export function admitSlots(batch: number, inFlight: number, pending: number): number {
  if (batch <= 0) return pending;
  return Math.max(0, Math.min(pending, batch - inFlight));
}

/** States counted as "in flight" against a task's batch size. */
export const IN_FLIGHT_STATES: readonly SubtaskStateWord[] = [
  SubtaskState.DELAYED,
  SubtaskState.READY,
  SubtaskState.RESERVED,
];
/** States a revoke moves to REVOKED: everything not RESERVED and not final (design.md §5). */
export const REVOCABLE_STATES: readonly SubtaskStateWord[] = [
  SubtaskState.PENDING,
  SubtaskState.DELAYED,
  SubtaskState.READY,
  SubtaskState.BURIED,
];
/** States an operator's retry (POST /task/retry) restarts: failed or stopped work, one subtask at a time. */
export const RETRYABLE_STATES: readonly SubtaskStateWord[] = [
  SubtaskState.FAILED,
  SubtaskState.BURIED,
  SubtaskState.REVOKED,
];
/**
 * Why a retry is refused (undefined: allowed). A task an operator REVOKED runs nothing more; a
 * HALTED one (max_errors) stays halted but the one subtask retried runs again.
 */
export function retryRefusal(subtaskState: string, taskStatus: string): string | undefined {
  if (!(RETRYABLE_STATES as readonly string[]).includes(subtaskState))
    return `it is ${subtaskState}: only a FAILED, BURIED or REVOKED subtask can be retried`;
  if (taskStatus === 'REVOKED') return 'its task is REVOKED: a revoked task runs nothing more (make a new task)';
  return undefined;
}
/** States a ttl expiry applies to: admitted, never started (ttl counts from entering READY; PENDING waits for a batch slot or a dependency and never expires). */
export const EXPIRABLE_STATES: readonly SubtaskStateWord[] = [SubtaskState.DELAYED, SubtaskState.READY];
/** States counted as errors against max_errors. */
export const ERROR_STATES: readonly SubtaskStateWord[] = [SubtaskState.FAILED, SubtaskState.BURIED];
/** Default task priority (beanstalk's): lower runs first. */
export const DEFAULT_PRIORITY = 1024;

/** A RESERVED subtask whose ttr ran out this many times is BURIED (an operator may kick it). */
export const MAX_TTR_REQUEUES = 3;

/** Parse a tag selector or a reported tag list: "k=v,k2=v2" -> ["k=v", "k2=v2"] (trimmed, empties dropped). */
export function parseTags(text: string | undefined | null): string[] {
  if (!text) return [];
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const i = s.indexOf('=');
      return i < 0 ? s : `${s.slice(0, i).trim()}=${s.slice(i + 1).trim()}`;
    });
}

/** True when every pair of the selector is among the host's tags. */
export function tagsMatch(selector: readonly string[], hostTags: ReadonlySet<string>): boolean {
  return selector.length > 0 && selector.every((t) => hostTags.has(t));
}

/** When a task's subtasks may first be READY: after its delay and not before its start_at. */
export function firstReadyAt(
  task: { gmt_create: number; delay_ms: number; start_at: number | null },
  now: number,
): number {
  return Math.max(now, task.gmt_create + task.delay_ms, task.start_at ?? 0);
}
