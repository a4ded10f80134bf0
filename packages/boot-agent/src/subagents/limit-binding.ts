/**
 * Binding an agent's process to its limits (limits/): before a spawn (prepare, the process
 * joins its groups before its program runs) or when adopting a running one (attach). An
 * agent must not run unlimited when limits were asked for: either way a failure is a failed start.
 */
import { JobError } from './job-error.ts';
import type { Placement } from './limits/limiter.ts';
import type { Entry, SupervisorDeps } from './loop-context.ts';
import { mergeLimits, parseLimits, type ParsedLimits } from './run-spec.ts';

function limitsOf(e: Entry): ParsedLimits {
  return mergeLimits(e.spec.limits, e.state.limits ? parseLimits(e.state.limits) : undefined);
}

function limitError(deps: SupervisorDeps, e: Entry, err: unknown): JobError {
  deps.logger.error(
    { agent: e.state.name, err: (err as Error).message, limiter: deps.limiter.kind },
    'cannot apply limits',
  );
  return new JobError(
    'JOB_START_FAILED',
    `${e.state.name}: cannot apply limits (${deps.limiter.kind}): ${(err as Error).message}`,
  );
}

export function prepareLimits(deps: SupervisorDeps, e: Entry): Placement {
  try {
    return deps.limiter.prepare(e.state.name, limitsOf(e));
  } catch (err) {
    // The start fails rather than running the agent unlimited.
    throw limitError(deps, e, err);
  }
}

/** Sets e.handle; on failure the adopted process is killed (it would run unlimited) and this throws. */
export function attachLimits(deps: SupervisorDeps, e: Entry): void {
  try {
    e.handle = deps.limiter.attach(e.state.name, e.state.pid!, limitsOf(e));
  } catch (err) {
    const jobErr = limitError(deps, e, err);
    deps.runner.signalGroup(e.state.pid!, 'SIGKILL');
    throw jobErr;
  }
}
