/** The start, stop and restart steps of an installed agent (its envs and limits applied first). */
import type { SubAgentJob } from '@aspire/protocol';
import { JobError } from '../job-error.ts';
import { applyJobSettings, startAndSettle, type StepContext } from './step-context.ts';

function mustHave(ctx: StepContext, name: string): void {
  if (!ctx.supervisor().has(name)) throw new JobError('JOB_NOT_INSTALLED', `${name} is not installed`);
}

/** Clear fatal and strikes, apply the job's envs/limits, start if not running. */
export async function startAgent(ctx: StepContext, job: SubAgentJob, signal: AbortSignal): Promise<string> {
  mustHave(ctx, job.name);
  await ctx.supervisor().update(job.name, (st) => applyJobSettings(st, job));
  await startAndSettle(ctx, job.name, signal);
  return `${job.name} running`;
}

export async function stopAgent(ctx: StepContext, job: SubAgentJob): Promise<string> {
  mustHave(ctx, job.name);
  await ctx.supervisor().stop(job.name);
  return `${job.name} stopped`;
}

export async function restartAgent(ctx: StepContext, job: SubAgentJob, signal: AbortSignal): Promise<string> {
  mustHave(ctx, job.name);
  const s = ctx.supervisor();
  await s.update(job.name, (st) => applyJobSettings(st, job));
  await s.stop(job.name);
  await startAndSettle(ctx, job.name, signal);
  return `${job.name} restarted`;
}
