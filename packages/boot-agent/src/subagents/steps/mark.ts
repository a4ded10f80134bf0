/**
 * Recording an upgrade's step in its marker (upgrade-marker.ts) before taking it, so a
 * BootAgent restart finishes the upgrade from there (resume.ts).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { layout } from '../agent-state.ts';
import { fsJobError } from '../job-error.ts';
import { writeUpgradeMarker, type UpgradeMarker } from '../upgrade-marker.ts';
import type { StepContext } from './step-context.ts';

/** A marker that cannot be written stops the upgrade there (JOB_DISK_FULL or JOB_INSTALL_FAILED). */
export function mark(ctx: StepContext, m: UpgradeMarker): void {
  try {
    writeUpgradeMarker(ctx.deps.stateDir, m);
  } catch (err) {
    throw fsJobError(err, `${m.name} upgrade: recording step ${m.step}`);
  }
}

/** Best effort: a rollback (or commit) goes on even when its marker cannot be written. */
export function tryMark(ctx: StepContext, m: UpgradeMarker): void {
  try {
    writeUpgradeMarker(ctx.deps.stateDir, m);
  } catch (err) {
    ctx.log.error(
      { agent: m.name, step: m.step, err: (err as Error).message },
      'cannot record the upgrade step; going on',
    );
  }
}

/** Remove every version dir of an agent but those in `keep`. */
export function pruneVersions(ctx: StepContext, name: string, keep: string[]): void {
  const dir = layout(ctx.deps.stateDir, name).versionsDir;
  try {
    for (const v of readdirSync(dir)) if (!keep.includes(v)) rmSync(join(dir, v), { recursive: true, force: true });
  } catch {
    /* nothing to prune */
  }
}
