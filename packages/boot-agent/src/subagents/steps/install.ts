/**
 * The install step: fetch + verify + stage, activate, register with the supervisor, start.
 * Installing a name that is already installed is an upgrade (upgrade.ts). A failed first
 * install leaves no trace of the agent.
 */
import type { SubAgentJob } from '@aspire/protocol';
import { removeAgentDir, type AgentState } from '../agent-state.ts';
import { JobError } from '../job-error.ts';
import type { Staged } from '../package-stage.ts';
import type { RunSpec } from '../run-spec.ts';
import { activate, fetchAndStage, runCommandSource } from './fetch.ts';
import { applyJobSettings, startAndSettle, type StepContext } from './step-context.ts';
import { upgrade } from './upgrade.ts';

export async function install(
  ctx: StepContext,
  job: SubAgentJob,
  signal: AbortSignal,
  stop: AbortSignal = signal,
): Promise<string> {
  const s = ctx.supervisor();
  if (s.has(job.name)) return upgrade(ctx, job, signal, true, stop);
  if (!job.url) throw new JobError('JOB_INVALID', 'install: url is required');
  let version: string;
  let spec: RunSpec;
  let kind: AgentState['kind'] = 'tar';
  let staged: Staged | undefined;
  try {
    if (job.url.startsWith('command://')) {
      ({ version, spec } = await runCommandSource(ctx, job, signal));
      kind = 'rpm';
    } else {
      staged = await fetchAndStage(ctx, job, signal, []);
      try {
        spec = await activate(ctx, staged, signal);
      } catch (err) {
        staged.discard();
        throw err;
      }
      version = staged.version;
      kind = staged.type;
    }
  } catch (err) {
    // A failed first install leaves no trace of the agent (its dir only held staging).
    removeAgentDir(ctx.deps.stateDir, job.name);
    throw err;
  }
  const state: AgentState = {
    name: job.name,
    current: version,
    kind,
    rpmName: kind === 'rpm' ? job.name : undefined,
    desired: 'running',
    fatal: false,
    killed: false,
    strikes: 0,
    lastStartAt: 0,
    envs: {},
  };
  applyJobSettings(state, job);
  await s.add(state, spec);
  ctx.deps.events.emit('installed', `${job.name} ${version} installed`, { agent: job.name, data: { version } });
  await startAndSettle(ctx, job.name, signal);
  return `${job.name} ${version} installed and running`;
}
