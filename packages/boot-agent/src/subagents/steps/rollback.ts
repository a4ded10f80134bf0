/**
 * The rollback step of an upgrade: the old version's files (rpm) and state back in place,
 * the new version's dir removed, the old one started again, a `rollback` event. Always
 * throws JOB_ROLLED_BACK (its message says why and whether the old version runs).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { layout } from '../agent-state.ts';
import { JobError } from '../job-error.ts';
import { rpmInstall } from '../rpm.ts';
import { removeUpgradeMarker, type UpgradeMarker } from '../upgrade-marker.ts';
import { tryMark } from './mark.ts';
import { specOf, type StepContext } from './step-context.ts';

export async function rollBack(ctx: StepContext, m: UpgradeMarker): Promise<never> {
  const { deps } = ctx;
  const s = ctx.supervisor();
  const { snapshot, name } = m;
  const to = m.to ?? '?';
  const reason = m.reason ?? 'rolled back';
  tryMark(ctx, m);
  ctx.log.warn({ agent: name, from: m.from, to, reason }, 'upgrade failed its health window: rolling back');
  await s.stop(name);
  let restoreNote = '';
  if (snapshot.kind === 'rpm') {
    const oldRpm = join(layout(deps.stateDir, name).versionDir(snapshot.current), 'package.rpm');
    try {
      await rpmInstall(ctx.rpm, oldRpm, { oldpackage: true });
    } catch (err) {
      restoreNote = `; restoring the old rpm failed: ${(err as Error).message}`;
    }
  }
  await s.update(
    name,
    (st) => Object.assign(st, { ...snapshot, pid: undefined, startTicks: undefined }),
    specOf(ctx, name, snapshot.current),
  );
  if (m.to !== undefined && m.to !== snapshot.current && m.to !== snapshot.previous)
    rmSync(layout(deps.stateDir, name).versionDir(m.to), { recursive: true, force: true });
  let running = 'and running';
  try {
    await s.start(name);
  } catch (err) {
    running = `but it did not start: ${(err as Error).message}`;
  }
  deps.events.emit('rollback', `${name} upgrade to ${to} rolled back to ${snapshot.current}: ${reason}`, {
    agent: name,
    data: { from: snapshot.current, to, reason },
  });
  removeUpgradeMarker(deps.stateDir, name);
  throw new JobError(
    'JOB_ROLLED_BACK',
    `${name} ${to} ${reason}; rolled back to ${snapshot.current} ${running}${restoreNote}`,
  );
}
