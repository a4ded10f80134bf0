/** The commit step of an upgrade: the new version passed its health window; prune, report. */
import { removeUpgradeMarker, type UpgradeMarker } from '../upgrade-marker.ts';
import { pruneVersions, tryMark } from './mark.ts';
import type { StepContext } from './step-context.ts';

export function commitUpgrade(ctx: StepContext, m: UpgradeMarker): string {
  tryMark(ctx, m);
  const to = m.to!;
  pruneVersions(ctx, m.name, [to, m.from]);
  ctx.deps.events.emit('upgraded', `${m.name} upgraded ${m.from} -> ${to}`, {
    agent: m.name,
    data: { from: m.from, to },
  });
  removeUpgradeMarker(ctx.deps.stateDir, m.name);
  return `${m.name} upgraded ${m.from} -> ${to}`;
}
