/**
 * Stopping an agent's process, OFF the loop (the writer has already set desired `stopped` and
 * marked the entry stopping): the spec's stop (a signal to the process group, or a stop
 * command), then SIGKILL to the group after stop_timeout. Throws JOB_STOP_FAILED when the
 * process survives SIGKILL.
 */
import { agentEnv, agentIds } from './agent-env.ts';
import { JobError } from './job-error.ts';
import type { Entry, SupervisorDeps } from './loop-context.ts';
import { waitGone } from './process-probes.ts';

export async function stopProcess(deps: SupervisorDeps, e: Entry, pid: number, startTicks: string): Promise<void> {
  const { runner, clock, logger } = deps;
  const name = e.state.name;
  const timeoutMs = (e.spec.stopTimeoutSec ?? deps.config.stopTimeoutSec) * 1000;
  const deadline = clock.monotonic() + timeoutMs;
  if (e.spec.stop.kind === 'kill') {
    runner.signalGroup(pid, e.spec.stop.signal);
  } else {
    // The stop command learns whom to stop from ASPIRE_AGENT_PID (no shell to expand $PID).
    await runner.run(e.spec.stop.argv, {
      cwd: deps.versionDir(name, e.state.current),
      env: { ...agentEnv(e), ASPIRE_AGENT_PID: String(pid) },
      ...agentIds(e),
      timeoutMs,
    });
  }
  if (!(await waitGone(clock, runner, e, pid, startTicks, deadline - clock.monotonic()))) {
    logger.warn({ agent: name, agentPid: pid, timeoutMs }, 'sub-agent ignored its stop; SIGKILL to its process group');
    runner.signalGroup(pid, 'SIGKILL');
    if (!(await waitGone(clock, runner, e, pid, startTicks, 10_000)))
      throw new JobError('JOB_STOP_FAILED', `${name} (pid ${pid}) survived SIGKILL`);
  }
}
