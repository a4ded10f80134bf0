/**
 * The run spec's liveness checks, run OFF the loop from a supervision tick: the `socket`
 * connect first, then the `check` command. A failure kills the agent's process group (inside
 * the writer, and only if the pid is still the agent's) so the restart policy restarts it.
 */
import { agentEnv, agentIds } from './agent-env.ts';
import type { Entry, LoopContext } from './loop-context.ts';
import { describeSocket, probeSocket } from './socket-check.ts';

/** The spec asks for a check and one is due at `now` (none running). */
export function checkDue(ctx: LoopContext, e: Entry, now: number): boolean {
  const every = (e.spec.checkIntervalSec ?? ctx.deps.config.checkIntervalSec) * 1000;
  return (Array.isArray(e.spec.check) || !!e.spec.socket) && !e.checking && now - e.lastCheckAt >= every;
}

export async function runCheck(ctx: LoopContext, e: Entry, pid: number): Promise<void> {
  const { deps } = ctx;
  const timeoutMs = Math.max(1000, (e.spec.checkIntervalSec ?? deps.config.checkIntervalSec) * 1000);
  let code: number | null = 0;
  let failed: string | undefined;
  try {
    const sock = e.spec.socket;
    const refused = sock ? await probeSocket(sock, timeoutMs, deps.clock) : undefined;
    if (sock && refused !== undefined) failed = `socket ${describeSocket(sock)} check failed (${refused})`;
    else if (Array.isArray(e.spec.check)) {
      code = await deps.runner.run(e.spec.check, {
        cwd: deps.versionDir(e.state.name, e.state.current),
        env: { ...agentEnv(e), ASPIRE_AGENT_PID: String(pid) },
        ...agentIds(e),
        timeoutMs,
      });
      if (code !== 0) failed = 'check command failed';
    }
  } finally {
    e.checking = false;
  }
  if (failed !== undefined) {
    await ctx.serial(() => {
      if (e.state.pid !== pid) return;
      deps.logger.warn(
        { agent: e.state.name, agentPid: pid, code },
        `${failed}: killing the sub-agent so the policy restarts it`,
      );
      deps.runner.signalGroup(pid, 'SIGKILL');
    });
  }
}
