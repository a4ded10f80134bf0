/**
 * What every job step of the sub-agent manager shares: its dependencies, its logger, the rpm
 * options, the supervisor (the single writer of process state, made on first use) and the
 * helpers several steps call (a version's run spec, job settings, start-and-settle).
 */
import { join } from 'node:path';
import type { SubAgentJob } from '@aspire/protocol';
import type { Logger } from 'pino';
import type { SubAgentManagerDeps } from '../../contracts.ts';
import { layout, type AgentState } from '../agent-state.ts';
import { JobError } from '../job-error.ts';
import { readSpecFile } from '../package-stage.ts';
import type { RpmOptions } from '../rpm.ts';
import { RUN_SPEC_FILE, type RunSpec } from '../run-spec.ts';
import type { Supervisor } from '../supervisor.ts';

export interface StepContext {
  readonly deps: SubAgentManagerDeps;
  readonly log: Logger;
  readonly rpm: RpmOptions;
  /** Where downloads land before staging (`STATE/agents/.tmp`). */
  readonly tmpDir: string;
  supervisor(): Supervisor;
}

/** The run spec of an installed version (its agent.json). */
export function specOf(ctx: StepContext, name: string, version: string): RunSpec {
  return readSpecFile(join(layout(ctx.deps.stateDir, name).versionDir(version), RUN_SPEC_FILE), `${name} ${version}`);
}

/** The job's envs and limits become the agent's (persisted with its state). */
export function applyJobSettings(s: AgentState, job: SubAgentJob): void {
  if (job.envs) s.envs = { ...job.envs };
  if (job.limits) s.limits = { ...job.limits };
}

/** Start, then honour the spec's start_delay: the job fails if the agent did not stay up. */
export async function startAndSettle(ctx: StepContext, name: string, signal: AbortSignal): Promise<void> {
  const s = ctx.supervisor();
  await s.start(name);
  const delay = s.spec(name)?.startDelaySec;
  if (!delay) return;
  await ctx.deps.clock.sleep(delay * 1000, signal).catch(() => {});
  const r = s.reports().find((x) => x.name === name);
  if (r?.status !== 'running')
    throw new JobError(
      'JOB_START_FAILED',
      `${name} did not stay up for its start_delay of ${delay} s (status ${r?.status ?? 'unknown'})`,
    );
}

/** The installed agent's state, or JOB_NOT_INSTALLED. */
export function mustBeInstalled(ctx: StepContext, name: string): Readonly<AgentState> {
  const st = ctx.supervisor().get(name);
  if (!st) throw new JobError('JOB_NOT_INSTALLED', `${name} is not installed`);
  return st;
}
