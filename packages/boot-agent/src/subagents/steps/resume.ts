/**
 * Finishing an upgrade a BootAgent restart cut short, from the step its marker names: the
 * reported result then matches what runs (docs/supervision.md "Upgrades cut short").
 */
import { JobError } from '../job-error.ts';
import { removeUpgradeMarker, type UpgradeMarker } from '../upgrade-marker.ts';
import { commitUpgrade } from './commit.ts';
import { pruneVersions } from './mark.ts';
import { rollBack } from './rollback.ts';
import type { StepContext } from './step-context.ts';

export async function resumeUpgrade(ctx: StepContext, m: UpgradeMarker, signal: AbortSignal): Promise<string> {
  const s = ctx.supervisor();
  const cur = s.get(m.name);
  const what = `${m.name} upgrade ${m.from} -> ${m.to ?? '?'}`;
  ctx.log.warn(
    { agent: m.name, jobId: m.jobId, step: m.step, from: m.from, to: m.to },
    'finishing an upgrade cut short by a BootAgent restart',
  );
  if (!cur) {
    removeUpgradeMarker(ctx.deps.stateDir, m.name);
    throw new JobError('JOB_INTERRUPTED', `${what}: cut short in step ${m.step}; ${m.name} is no longer installed`);
  }
  switch (m.step) {
    case 'fetch':
      // Nothing was switched: drop what was staged, the old version runs on.
      pruneVersions(ctx, m.name, [cur.current, ...(cur.previous ? [cur.previous] : [])]);
      removeUpgradeMarker(ctx.deps.stateDir, m.name);
      throw new JobError(
        'JOB_INTERRUPTED',
        `${what}: the BootAgent stopped while the package was fetched; nothing changed, ${cur.current} is still current`,
      );
    case 'commit':
      return commitUpgrade(ctx, m);
    case 'watch': {
      if (cur.current !== m.to)
        return rollBack(ctx, {
          ...m,
          step: 'rollback',
          reason: 'the BootAgent stopped before the new version was recorded',
        });
      const remaining = Math.max(0, (m.watchUntil ?? 0) - ctx.deps.clock.now());
      const w = await s.watchRunning(m.name, remaining, signal);
      if (w.interrupted)
        throw new JobError(
          'JOB_INTERRUPTED',
          `${what}: BootAgent stopping in the health window; its next start finishes it`,
          true,
        );
      if (w.ok) return commitUpgrade(ctx, { ...m, step: 'commit' });
      return rollBack(ctx, {
        ...m,
        step: 'rollback',
        reason: `${w.reason} (health window resumed after a BootAgent restart)`,
      });
    }
    case 'activate':
      return rollBack(ctx, {
        ...m,
        step: 'rollback',
        reason: 'the BootAgent stopped while the new version was put in place',
      });
    case 'rollback':
      return rollBack(ctx, { ...m, reason: m.reason ?? 'rollback cut short by a BootAgent restart' });
  }
}
