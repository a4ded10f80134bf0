/** A failed job step as its result (the manager's handleJob never throws). */
import { isDiskFull } from '@aspire/agent-core';
import { ErrorCode, type SubAgentJob } from '@aspire/protocol';
import type { Logger } from 'pino';
import type { JobOutcome } from '../contracts.ts';
import { JobError } from './job-error.ts';

export function outcomeOf(log: Logger, err: unknown, job: Pick<SubAgentJob, 'id' | 'action' | 'name'>): JobOutcome {
  if (err instanceof JobError) {
    log.warn(
      { job: job.id, action: job.action, agent: job.name, errcode: err.errcode, err: err.message },
      'sub-agent job failed',
    );
    return { errcode: err.errcode, message: err.message, ...(err.resumeLater ? { resumeLater: true } : {}) };
  }
  log.error({ job: job.id, err }, 'sub-agent job failed unexpectedly');
  const e = err as NodeJS.ErrnoException;
  if (isDiskFull(e)) return { errcode: ErrorCode.JOB_DISK_FULL, message: e.message };
  return {
    errcode: ErrorCode.JOB_INSTALL_FAILED,
    message: `${job.action} ${job.name}: ${e?.message ?? String(err)}`,
  };
}
