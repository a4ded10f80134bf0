/**
 * The job validation: the one place a job from a status reply (or a change the desired-state
 * policy asks for) is checked, at the edge, into a typed `Job`. Past this point the runner,
 * the config job and the sub-agent manager take the typed value and check nothing again.
 *
 * The transport checks only the reply's envelope (a job is `unknown` there), so one bad job is
 * answered JOB_INVALID here instead of the whole reply being refused and its good jobs lost.
 */
import {
  ErrorCode,
  ErrorMessage,
  SUB_AGENT_ACTIONS,
  configJob,
  job as jobEnvelope,
  subAgentJob,
  type ConfigJob,
  type SubAgentAction,
  type SubAgentJob,
} from '@aspire/protocol';

/** A checked sub-agent job, its action narrowed to the literal it is. */
export type SubAgentJobOf = Omit<SubAgentJob, 'action'> & { action: SubAgentAction };

/** A checked job, one member per kind of action (`action` tells them apart). */
export type Job = ConfigJob | SubAgentJobOf;

function isSubAgentAction(action: string): action is SubAgentAction {
  return (SUB_AGENT_ACTIONS as readonly string[]).includes(action);
}

/** Why a job is not run: `action` as the job gave it, for the answer's record. */
export interface JobRefused {
  ok: false;
  action: string;
  errcode: number;
  message: string;
}

export type JobCheck = { ok: true; job: Job } | JobRefused;

function invalid(action: string, errors: readonly string[]): JobRefused {
  return {
    ok: false,
    action,
    errcode: ErrorCode.JOB_INVALID,
    message: `${ErrorMessage.JOB_INVALID}: ${errors.join('; ')}`,
  };
}

/** Check a job of a status reply: its envelope (id, action), then the fields of its action. */
export function validateJob(item: unknown): JobCheck {
  const v = jobEnvelope.validate(item);
  if (!v.ok) return invalid(String((item as { action?: unknown } | null)?.action ?? '?').slice(0, 32), v.errors);
  const action = v.value.action;
  if (action === 'config') {
    const cv = configJob.validate(item);
    return cv.ok ? { ok: true, job: cv.value } : invalid(action, cv.errors);
  }
  if (isSubAgentAction(action)) return validateSubAgentJob(item, action);
  return {
    ok: false,
    action,
    errcode: ErrorCode.JOB_UNSUPPORTED_ACTION,
    message: `${ErrorMessage.JOB_UNSUPPORTED_ACTION}: ${JSON.stringify(action)}`,
  };
}

/** Check a sub-agent job (install upgrade uninstall start stop restart). */
export function validateSubAgentJob(
  item: unknown,
  action = String((item as { action?: unknown } | null)?.action ?? '?'),
): { ok: true; job: SubAgentJobOf } | JobRefused {
  const sv = subAgentJob.validate(item);
  if (!sv.ok) return invalid(action, sv.errors);
  const checked = sv.value.action;
  // The schema allows only these actions; the guard lets the type say so without a cast.
  if (!isSubAgentAction(checked)) return invalid(action, [`action: ${checked}`]);
  return { ok: true, job: { ...sv.value, action: checked } };
}

/** A short form of a job (or revoke entry) for a log line. */
export function preview(item: unknown): string {
  try {
    const s = JSON.stringify(item);
    return s.length > 200 ? `${s.slice(0, 200)}...` : s;
  } catch {
    return String(item);
  }
}
