/**
 * The upgrade step: fetch + verify + stage the new version beside the old one, stop the old,
 * switch `current`, start the new and watch it for upgradeHealthySec, then commit (commit.ts)
 * or roll back (rollback.ts). Each step is recorded in the upgrade marker first (mark.ts), so
 * a BootAgent restart finishes it (resume.ts).
 */
import type { SubAgentJob } from '@aspire/protocol';
import type { AgentState } from '../agent-state.ts';
import { JobError } from '../job-error.ts';
import type { Staged } from '../package-stage.ts';
import type { RunSpec } from '../run-spec.ts';
import { removeUpgradeMarker, type UpgradeMarker, type UpgradeStep } from '../upgrade-marker.ts';
import { commitUpgrade } from './commit.ts';
import { activate, fetchAndStage, runCommandSource } from './fetch.ts';
import { mark } from './mark.ts';
import { rollBack } from './rollback.ts';
import { applyJobSettings, mustBeInstalled, type StepContext } from './step-context.ts';

type MarkerOf = (step: UpgradeStep, to: string | undefined, extra?: Partial<UpgradeMarker>) => UpgradeMarker;

/** The new version in place (old one stopped), or `already` when the job's version already runs. */
type Activated = { version: string; spec: RunSpec; staged?: Staged } | { already: string };

export async function upgrade(
  ctx: StepContext,
  job: SubAgentJob,
  signal: AbortSignal,
  viaInstall = false,
  stop: AbortSignal = signal,
): Promise<string> {
  const s = ctx.supervisor();
  const snapshot: AgentState = structuredClone(mustBeInstalled(ctx, job.name) as AgentState);
  if (!job.url) throw new JobError('JOB_INVALID', `${job.action}: url is required`);
  if (job.version && job.version === snapshot.current) {
    await s.update(job.name, (st) => applyJobSettings(st, job));
    await s.start(job.name);
    return `${job.name} ${snapshot.current} already installed${viaInstall ? '' : '; nothing to upgrade'}`;
  }
  const marker: MarkerOf = (step, to, extra = {}) => ({
    version: 1,
    jobId: job.id,
    name: job.name,
    step,
    from: snapshot.current,
    ...(to !== undefined ? { to } : {}),
    snapshot,
    at: ctx.deps.clock.now(),
    ...extra,
  });
  const got = await fetchAndActivate(ctx, job, snapshot, marker, signal);
  if ('already' in got) return got.already;
  return switchAndWatch(ctx, job, snapshot, got, marker, stop);
}

/** Steps fetch and activate: before the switch a failure leaves the old version (again) running. */
async function fetchAndActivate(
  ctx: StepContext,
  job: SubAgentJob,
  snapshot: AgentState,
  marker: MarkerOf,
  signal: AbortSignal,
): Promise<Activated> {
  const s = ctx.supervisor();
  const protect = [snapshot.current, ...(snapshot.previous ? [snapshot.previous] : [])];
  mark(ctx, marker('fetch', job.version));
  try {
    if (job.url!.startsWith('command://')) {
      mark(ctx, marker('activate', job.version));
      await s.stop(job.name);
      return await runCommandSource(ctx, job, signal);
    }
    const staged = await fetchAndStage(ctx, job, signal, protect);
    const version = staged.version;
    if (version === snapshot.current) {
      removeUpgradeMarker(ctx.deps.stateDir, job.name);
      await s.update(job.name, (st) => applyJobSettings(st, job));
      await s.start(job.name);
      return { already: `${job.name} ${version} already installed` };
    }
    mark(ctx, marker('activate', version));
    await s.stop(job.name);
    try {
      return { version, spec: await activate(ctx, staged, signal), staged };
    } catch (err) {
      staged.discard();
      await s.start(job.name);
      throw err;
    }
  } catch (err) {
    // Before the switch the old version is (again) what runs: the failure is the result.
    removeUpgradeMarker(ctx.deps.stateDir, job.name);
    throw err;
  }
}

/** Steps watch, then commit or rollback: `current` switched, the new version started and watched. */
async function switchAndWatch(
  ctx: StepContext,
  job: SubAgentJob,
  snapshot: AgentState,
  got: { version: string; spec: RunSpec; staged?: Staged },
  marker: MarkerOf,
  stop: AbortSignal,
): Promise<string> {
  const { deps } = ctx;
  const s = ctx.supervisor();
  const { version, staged } = got;
  const watchUntil = deps.clock.now() + deps.config.upgradeHealthySec * 1000;
  mark(ctx, marker('watch', version, { watchUntil }));
  try {
    await s.update(
      job.name,
      (st) => {
        st.previous = snapshot.current;
        st.current = version;
        // The new version may come as the other package type (tar.gz <-> rpm, or command://).
        st.kind = staged ? staged.type : 'rpm';
        st.rpmName = st.kind === 'rpm' ? job.name : undefined;
        applyJobSettings(st, job);
      },
      got.spec,
    );
  } catch (err) {
    return rollBack(
      ctx,
      marker('rollback', version, { reason: `cannot record ${version} as current: ${(err as Error).message}` }),
    );
  }
  // Past the point of no return: only the BootAgent's stop cuts the health window (it resumes
  // on the next start); a revoke arriving now does not (the new version is in place).
  const watched = await s.startWatched(job.name, deps.config.upgradeHealthySec * 1000, stop);
  if (watched.interrupted) {
    // The marker stays at `watch`: the next start of the BootAgent finishes the health window.
    throw new JobError(
      'JOB_INTERRUPTED',
      `${job.name} upgrade ${snapshot.current} -> ${version}: BootAgent stopping in the health window; its next start finishes it`,
      true,
    );
  }
  if (watched.ok) return commitUpgrade(ctx, marker('commit', version));
  return rollBack(ctx, marker('rollback', version, { reason: watched.reason }));
}
