/**
 * What the supervisor does with an exit it did not ask for (or a start that failed): ask the
 * restart policy (`restart-policy.ts`, the restart hold and the 3-strike rule), record the
 * strikes, send `strike` and `fatal` events, and arm the restart when the agent is not fatal.
 * Called inside serial with `exit.at` = now; the caller persists the state afterwards.
 */
import type { AgentState } from './agent-state.ts';
import type { Entry, LoopContext } from './loop-context.ts';
import { decide, type ExitInfo } from './restart-policy.ts';

export function countAbnormalExit(
  ctx: LoopContext,
  e: Entry,
  lastStartAt: number,
  exit: ExitInfo,
  opts: { logFatal: boolean },
): void {
  const s: AgentState = e.state;
  const { events, logger } = ctx.deps;
  const now = exit.at;
  const d = decide({ lastStartAt, strikes: s.strikes }, exit, now, ctx.policy);
  s.strikes = d.strikes;
  if (d.struck)
    events.emit('strike', `${s.name} strike ${d.strikes} of ${ctx.policy.maxStrikes}`, {
      agent: s.name,
      data: { strikes: d.strikes },
    });
  if (d.fatal) {
    s.fatal = true;
    if (opts.logFatal)
      logger.error({ agent: s.name, strikes: d.strikes }, 'sub-agent is fatal: not restarted until a job resets it');
    events.emit('fatal', `${s.name} is fatal after ${d.strikes} strikes`, {
      agent: s.name,
      data: { strikes: d.strikes },
    });
  } else if (d.restartAt !== undefined) {
    ctx.scheduleRestart(e, d.restartAt);
  }
}
