/**
 * Starting a sub-agent, as steps of the supervisor's writer: begin (record the pending start),
 * the precheck (the run spec's `precheck`, up to 30 s per attempt) OFF the loop, then spawn
 * inside the writer again, or count the failed start for the restart policy. A precheck does
 * not hold the loop: its result comes back as an input through `serial()`; a result for a
 * start that was cancelled meanwhile (stop, remove, shutdown) is dropped.
 */
import { layout } from './agent-state.ts';
import { countAbnormalExit } from './abnormal-exit.ts';
import { agentEnv, agentIds } from './agent-env.ts';
import { JobError } from './job-error.ts';
import { prepareLimits } from './limit-binding.ts';
import type { Placement } from './limits/limiter.ts';
import type { Entry, LoopContext, PendingStart } from './loop-context.ts';
import { AGENT_HOME_ENV } from './process-scan.ts';

type PrecheckResult = { ok: true } | { ok: false; message: string };

/** One precheck attempt (it runs off the loop, but a start waits for it). */
const PRECHECK_TIMEOUT_MS = 30_000;

/**
 * Begin a start (inside serial). Without a precheck the spawn happens now; with one, the
 * precheck runs off the loop and its result re-enters through serial. The returned box holds
 * the promise that settles when the agent runs (or the start failed).
 */
export async function beginStart(ctx: LoopContext, e: Entry): Promise<{ done: Promise<void> }> {
  if (e.starting) return { done: e.starting.done };
  let resolve!: () => void;
  let reject!: (err: JobError) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  done.catch(() => {}); // a restart timer's start may have no waiter
  const p: PendingStart = { attemptAt: ctx.deps.clock.now(), done, resolve, reject };
  e.starting = p;
  if (!e.spec.precheck) {
    await spawnStep(ctx, e, p);
    return { done };
  }
  let ids: { uid?: number; gid?: number };
  try {
    ids = agentIds(e);
  } catch (err) {
    startFailed(ctx, e, p, `${e.state.name}: cannot start ${e.spec.start[0]}: ${(err as Error).message}`);
    return { done };
  }
  const name = e.state.name;
  const checked = runPrecheck(ctx, e, ids).catch(
    (err: unknown): PrecheckResult => ({
      ok: false,
      message: `${name}: precheck could not run: ${(err as Error).message}`,
    }),
  );
  void checked.then((result) =>
    ctx
      .serial(async () => {
        if (e.starting !== p) return; // cancelled (stop, remove, shutdown): the result is moot
        if (!result.ok) startFailed(ctx, e, p, result.message);
        else await spawnStep(ctx, e, p);
      })
      .catch((err: unknown) =>
        ctx.deps.logger.error({ agent: name, err: (err as Error).message }, 'start after precheck failed'),
      ),
  );
  return { done };
}

/** Drop a pending start: its waiters get JOB_START_FAILED; a late precheck result is ignored. */
export function cancelStart(e: Entry, why: string): void {
  const p = e.starting;
  if (!p) return;
  e.starting = undefined;
  p.reject(new JobError('JOB_START_FAILED', `${e.state.name}: ${why}`));
}

/** Spawn (inside serial), the agent's process joining its limits before its program runs. */
async function spawnStep(ctx: LoopContext, e: Entry, p: PendingStart): Promise<void> {
  const { deps } = ctx;
  const s = e.state;
  if (!ctx.wanted(e) || s.desired !== 'running') {
    cancelStart(e, 'no longer wanted running');
    return;
  }
  let pidBox = 0;
  let placement: Placement | undefined;
  try {
    const ids = agentIds(e);
    placement = prepareLimits(deps, e);
    const spawned = await deps.runner.spawn(
      {
        argv: e.spec.start,
        cwd: deps.versionDir(s.name, s.current),
        env: { ...agentEnv(e), [AGENT_HOME_ENV]: layout(deps.stateDir, s.name).root },
        ...ids,
        logFile: deps.logFile(s.name),
        cgroupProcs: placement.procsFiles,
      },
      (code, signal) => void ctx.exited(s.name, pidBox, code, signal),
    );
    pidBox = spawned.pid;
    s.pid = spawned.pid;
    s.startTicks = spawned.startTicks;
    e.handle = placement.bind(spawned.pid);
  } catch (err) {
    placement?.cancel();
    const msg =
      err instanceof JobError ? err.message : `${s.name}: cannot start ${e.spec.start[0]}: ${(err as Error).message}`;
    startFailed(ctx, e, p, msg);
    return;
  }
  const now = deps.clock.now();
  e.starting = undefined;
  s.lastStartAt = now;
  s.killed = false;
  e.own = true;
  e.lastCheckAt = now;
  ctx.persist(s);
  // startedAt is the instant the restart hold counts from (the log line's own time comes after the state fsync).
  deps.logger.info({ agent: s.name, version: s.current, agentPid: s.pid, startedAt: now }, 'sub-agent started');
  deps.events.emit('started', `${s.name} ${s.current} started (pid ${s.pid})`, {
    agent: s.name,
    data: { pid: s.pid, version: s.current, startedAt: now },
  });
  p.resolve();
}

/** A start that failed (inside serial) is an abnormal exit for the policy, unless an upgrade watches it. */
function startFailed(ctx: LoopContext, e: Entry, p: PendingStart, msg: string): void {
  const s = e.state;
  const at = p.attemptAt;
  if (e.starting === p) e.starting = undefined;
  s.lastStartAt = at;
  ctx.deps.events.emit('exit', msg, { agent: s.name, data: { code: null, signal: null, spawnError: true } });
  if (e.watch) {
    e.watch.failed = true;
    e.watch.reason = msg;
    e.watch.notify();
  } else {
    const now = ctx.deps.clock.now();
    countAbnormalExit(ctx, e, at, { at: now, code: null, signal: null, limitKill: false }, { logFatal: false });
  }
  ctx.persist(s);
  p.reject(new JobError('JOB_START_FAILED', msg));
}

/**
 * The precheck, OFF the loop: up to precheckAttempts runs, 1 s apart. Reads nothing the loop
 * writes after the call (argv, cwd and env are taken now).
 */
async function runPrecheck(ctx: LoopContext, e: Entry, ids: { uid?: number; gid?: number }): Promise<PrecheckResult> {
  const { deps } = ctx;
  const argv = e.spec.precheck!;
  const attempts = e.spec.precheckAttempts;
  const opts = {
    cwd: deps.versionDir(e.state.name, e.state.current),
    env: agentEnv(e),
    ...ids,
    timeoutMs: PRECHECK_TIMEOUT_MS,
  };
  const name = e.state.name;
  let code: number | null = null;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    code = await deps.runner.run(argv, opts).catch(() => null);
    if (code === 0) return { ok: true };
    if (attempt < attempts) await deps.clock.sleep(1000);
  }
  return {
    ok: false,
    message: `${name}: precheck ${argv.join(' ')} failed (${code === null ? 'killed or timed out' : `exit ${code}`}) ${attempts} time(s)`,
  };
}
