/**
 * The checks of a sub-agent job's envs and limits before any step runs: the `;` rule of envs
 * (env-rule.ts: PATH lists rewritten and logged, a mixed one refused) and the limits'
 * bounds. A bad job is JOB_INVALID and changes nothing.
 */
import type { SubAgentJob } from '@aspire/protocol';
import type { Logger } from 'pino';
import { applyEnvRule } from './env-rule.ts';
import { JobError } from './job-error.ts';
import { parseLimits } from './run-spec.ts';

/** The job with its envs as the agent will get them; throws JOB_INVALID. */
export function checkJobSettings(job: SubAgentJob, log: Logger): SubAgentJob {
  const checked = checkEnvs(job, log);
  const problems: string[] = [];
  if (checked.limits) parseLimits(checked.limits, problems);
  if (problems.length) throw new JobError('JOB_INVALID', problems.join('; '));
  return checked;
}

function checkEnvs(job: SubAgentJob, log: Logger): SubAgentJob {
  if (!job.envs) return job;
  const r = applyEnvRule(job.envs, 'envs');
  if (r.problems.length) throw new JobError('JOB_INVALID', r.problems.join('; '));
  for (const note of r.notes) log.info({ agent: job.name }, note);
  return r.notes.length ? { ...job, envs: r.env } : job;
}
