/**
 * An agent's process is gone (its exit event, or a poll that found it gone), inside the
 * supervisor's writer: follow a daemonizing start command to the process its pidfile names,
 * else release its limits, send `exit` (and `stopped` or `killed`), and hand an exit nobody
 * asked for to the upgrade watching it or to the restart policy (abnormal-exit.ts).
 */
import { countAbnormalExit } from './abnormal-exit.ts';
import { attachLimits } from './limit-binding.ts';
import { noLimits } from './limits/limiter.ts';
import type { Entry, LoopContext } from './loop-context.ts';
import { pidfileProcess } from './process-probes.ts';

export function handleExit(ctx: LoopContext, e: Entry, pid: number, code: number | null, signal: string | null): void {
  const { deps } = ctx;
  const s = e.state;
  e.goneSeenAt = undefined;
  const now = deps.clock.now();
  if (code === 0 && !e.stopping && s.desired === 'running' && followDaemon(ctx, e, pid)) return;
  const limitKill = e.handle.killedForLimit({ signal });
  e.handle.release();
  e.handle = noLimits;
  s.pid = undefined;
  s.startTicks = undefined;
  const how = signal ? `signal ${signal}` : code === null ? 'unknown status' : `code ${code}`;
  deps.events.emit('exit', `${s.name} (pid ${pid}) exited with ${how}`, {
    agent: s.name,
    data: { pid, code, signal, ranSec: Math.floor((now - s.lastStartAt) / 1000) },
  });
  if (s.desired === 'stopped' || e.stopping) {
    deps.events.emit('stopped', `${s.name} stopped`, { agent: s.name, data: { pid } });
    ctx.persist(s);
    return;
  }
  if (limitKill) {
    s.killed = true;
    deps.events.emit('killed', `${s.name} (pid ${pid}) was killed for exceeding its limits`, {
      agent: s.name,
      data: { pid, signal, limits: s.limits ?? null },
    });
  }
  if (e.watch) {
    // An upgrade is watching this start: it decides (rollback), not the restart policy.
    e.watch.failed = true;
    e.watch.reason = `exited with ${how} within the health window`;
    e.watch.notify();
    ctx.persist(s);
    return;
  }
  countAbnormalExit(ctx, e, s.lastStartAt, { at: now, code, signal, limitKill }, { logFatal: true });
  ctx.persist(s);
}

/**
 * The run spec's `pidfile`: a start command that daemonizes exits 0 after forking; the process
 * its pidfile names (started since our start) is the agent from now on, watched by polling.
 */
function followDaemon(ctx: LoopContext, e: Entry, launcher: number): boolean {
  const s = e.state;
  const daemon = pidfileProcess(ctx.deps.runner, e, s.lastStartAt, launcher);
  if (!daemon) return false;
  s.pid = daemon.pid;
  s.startTicks = daemon.ticks;
  e.own = false;
  attachLimits(ctx.deps, e);
  ctx.persist(s);
  ctx.deps.logger.info(
    { agent: s.name, launcher, agentPid: daemon.pid },
    'following the daemonized sub-agent named by its pidfile',
  );
  return true;
}
