/** The uninstall step: stop, release limits and cgroups, `rpm -e` for rpms, remove `NAME/` entirely. */
import type { SubAgentJob } from '@aspire/protocol';
import { removeAgentDir } from '../agent-state.ts';
import { rpmErase } from '../rpm.ts';
import { mustBeInstalled, type StepContext } from './step-context.ts';

export async function uninstall(ctx: StepContext, job: SubAgentJob): Promise<string> {
  const s = ctx.supervisor();
  const { kind, rpmName, current } = mustBeInstalled(ctx, job.name);
  await s.stop(job.name);
  await s.remove(job.name);
  await forgetGroups(ctx, job.name);
  if (kind === 'rpm') await rpmErase(ctx.rpm, rpmName ?? job.name);
  removeAgentDir(ctx.deps.stateDir, job.name);
  ctx.deps.events.emit('uninstalled', `${job.name} ${current} uninstalled`, {
    agent: job.name,
    data: { version: current },
  });
  return `${job.name} uninstalled`;
}

/**
 * Remove an uninstalled agent's cgroups. The exit handling already tried; a group whose
 * last task is still being torn down refuses rmdir for a moment, so retry briefly.
 */
async function forgetGroups(ctx: StepContext, name: string): Promise<void> {
  const limiter = ctx.supervisor().limiter;
  for (let attempt = 0; attempt < 20; attempt++) {
    if (limiter.forget(name)) return;
    await ctx.deps.clock.sleep(100);
  }
  ctx.log.warn(
    { agent: name, limiter: limiter.kind },
    'uninstalled, but a cgroup of it still has tasks: left in place',
  );
}
