/**
 * Subtask state machine (seed 001 "任务状态", beanstalk-like). Pure functions: the store applies
 * what they decide, so the SQLite store and a later PostgreSQL store share one set of rules.
 *
 *   PENDING --admit--> DELAYED --time--> READY --reserve--> RESERVED --ok--> SUCCESS
 *      |                  ^                ^                   |  |
 *      |                  `---retry--------+-------------------'  `--fail, retries gone--> FAILED
 *      |                                   `--ttr ran out (requeue)   `--ttr ran out too often--> BURIED
 *      `--(anything but RESERVED/final) --revoke--> REVOKED;  not started before ttl --> FAILED
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
export function decideResult(attempts: number, policy: RetryPolicy, errcode: number, message: string, now: number): ResultDecision {
  if (errcode === ErrorCode.OK) return { state: SubtaskState.SUCCESS, errcode, message };
  if (attempts <= policy.retryCount) {
    // The failed attempt goes back to the queue: DELAYED for the interval, or READY at once.
    const state = policy.retryIntervalMs > 0 ? SubtaskState.DELAYED : SubtaskState.READY;
    return { state, readyAt: now + policy.retryIntervalMs, errcode, message };
  }
  if (policy.retryCount > 0) {
    return {
      state: SubtaskState.FAILED,
      errcode: ErrorCode.TASK_RETRIES_EXHAUSTED,
      message: `${ErrorMessage.TASK_RETRIES_EXHAUSTED} (${attempts} attempts); last: ${errcode} ${message}`,
    };
  }
  return { state: SubtaskState.FAILED, errcode, message };
}

/** Where an admitted PENDING subtask goes: DELAYED until its ready time, else READY. */
export function admitState(readyAt: number, now: number): SubtaskStateWord {
  return readyAt > now ? SubtaskState.DELAYED : SubtaskState.READY;
}

/** How many PENDING subtasks a task may admit now (batch 0 = no limit). */
export function admitSlots(batch: number, inFlight: number, pending: number): number {
  if (batch <= 0) return pending;
  return Math.max(0, Math.min(pending, batch - inFlight));
}

/** States counted as "in flight" against a task's batch size. */
export const IN_FLIGHT_STATES: readonly SubtaskStateWord[] = [SubtaskState.DELAYED, SubtaskState.READY, SubtaskState.RESERVED];
/** States a revoke moves to REVOKED: everything not RESERVED and not final (seed 001). */
export const REVOCABLE_STATES: readonly SubtaskStateWord[] = [SubtaskState.PENDING, SubtaskState.DELAYED, SubtaskState.READY, SubtaskState.BURIED];
/** States a ttl expiry applies to: never started. */
export const EXPIRABLE_STATES: readonly SubtaskStateWord[] = [SubtaskState.PENDING, SubtaskState.DELAYED, SubtaskState.READY];

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
