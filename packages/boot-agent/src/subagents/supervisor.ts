/**
 * The supervisor: ONE reconcile loop, ONE writer. Everything that changes a sub-agent's state
 * (jobs' desired state, child exit events, adoption polls, restart timers, ticks) goes through
 * `serial()`, so two inputs never interleave. Exit events carry the pid they are about; an
 * event for a pid that is no longer the agent's is stale and dropped (elastic-agent's rule).
 *
 * Time comes from the injected Clock. The steps the writer runs live in files named for them:
 * the start sequence and its precheck (`start-sequence.ts`), the stop (`stop-sequence.ts`), an exit (`process-exit.ts`), the
 * restart hold and 3-strike rule (`restart-policy.ts`, applied by `abnormal-exit.ts`), process
 * probes and adoption (`process-probes.ts`), checks (`health-check.ts`), an upgrade's health
 * window (`health-window.ts`), limits (`limit-binding.ts`), saving state (`state-persister.ts`).
 */
import type { TimerHandle } from '@aspire/agent-core';
import type { AgentReport } from '@aspire/protocol';
import { saveState, type AgentState } from './agent-state.ts';
import { agentReports } from './agent-reports.ts';
import { checkDue, runCheck } from './health-check.ts';
import { armWatch, awaitWatch } from './health-window.ts';
import { JobError } from './job-error.ts';
import { attachLimits } from './limit-binding.ts';
import { noLimits, type Limiter } from './limits/limiter.ts';
import { newEntry, type Entry, type LoopContext, type SupervisorDeps, type WatchResult } from './loop-context.ts';
import { handleExit } from './process-exit.ts';
import { isRunning, pidfileProcess, processByEnv } from './process-probes.ts';
import type { PolicyConfig } from './restart-policy.ts';
import type { RunSpec } from './run-spec.ts';
import { beginStart, cancelStart } from './start-sequence.ts';
import { StatePersister } from './state-persister.ts';
import { stopProcess } from './stop-sequence.ts';

export type { SupervisorDeps, WatchResult } from './loop-context.ts';

export class Supervisor {
  private readonly entries = new Map<string, Entry>();
  private chain: Promise<unknown> = Promise.resolve();
  private tickTimer?: TimerHandle;
  private running = false;
  /** After stopLoop: the BootAgent is going away; nothing is (re)started any more. */
  private halted = false;
  private readonly policy: PolicyConfig;
  private readonly save: (s: AgentState) => void;
  private readonly store: StatePersister;
  /** What the split-out steps may call on this loop. */
  private readonly ctx: LoopContext;

  constructor(private readonly deps: SupervisorDeps) {
    const c = deps.config;
    this.policy = {
      restartHoldMs: c.restartHoldSec * 1000,
      strikeWindowMs: c.strikeWindowSec * 1000,
      maxStrikes: c.maxStrikes,
    };
    this.save = deps.save ?? ((s) => saveState(deps.stateDir, s));
    this.store = new StatePersister(deps, this.save);
    this.ctx = {
      deps,
      policy: this.policy,
      serial: (fn) => this.serial(fn),
      persist: (s) => this.store.persist(s),
      scheduleRestart: (e, at) => this.scheduleRestart(e, at),
      wanted: (e) => !this.halted && this.entries.get(e.state.name) === e,
      exited: (name, pid, code, signal) => this.exited(name, pid, code, signal),
    };
  }

  /** Run fn as the single writer; later inputs wait for it. */
  serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  startLoop(): void {
    this.running = true;
    this.scheduleTick();
  }

  async stopLoop(): Promise<void> {
    this.running = false;
    this.halted = true;
    this.tickTimer?.cancel();
    await this.serial(() => {
      for (const e of this.entries.values()) {
        e.restartTimer?.cancel();
        cancelStart(e, 'the BootAgent is stopping');
        // Watchdog timers stop; cgroups stay: the agents keep running under their limits.
        if (e.handle !== noLimits && this.deps.limiter.kind === 'watchdog') e.handle.release();
      }
    });
  }

  get limiter(): Limiter {
    return this.deps.limiter;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  get(name: string): Readonly<AgentState> | undefined {
    return this.entries.get(name)?.state;
  }

  spec(name: string): RunSpec | undefined {
    return this.entries.get(name)?.spec;
  }

  // ---- inputs -------------------------------------------------------------------------

  /**
   * Take over an agent known from state: adopt its process when the pid still is the very
   * process we started (start ticks match), else start it when it should run.
   */
  adopt(state: AgentState, spec: RunSpec, opts: { noRestart?: boolean } = {}): Promise<void> {
    return this.serial(async () => {
      const e = newEntry(state, spec, this.deps.clock.now());
      this.entries.set(state.name, e);
      let pid = state.pid;
      let ticks = state.startTicks;
      if (!(pid && ticks && this.deps.runner.alive(pid, ticks))) {
        // A daemonizing agent may have re-forked: its pidfile names the process, which must
        // have started after our last start of it (else it is a reused pid).
        const p =
          pidfileProcess(this.deps.runner, e, state.lastStartAt) ??
          processByEnv(this.deps.runner, this.deps.logger, this.deps.stateDir, e);
        pid = p?.pid;
        ticks = p?.ticks;
      }
      if (pid && ticks) {
        state.pid = pid;
        state.startTicks = ticks;
        attachLimits(this.deps, e);
        this.store.persist(state);
        this.deps.logger.info({ agent: state.name, agentPid: pid }, 'adopted running sub-agent');
        this.deps.events.emit('adopted', `${state.name} ${state.current} adopted (pid ${pid})`, {
          agent: state.name,
          data: { pid, version: state.current },
        });
        return;
      }
      const hadPid = state.pid !== undefined;
      state.pid = undefined;
      state.startTicks = undefined;
      if (hadPid && state.desired === 'running') {
        this.deps.events.emit('exit', `${state.name} was found gone at BootAgent start`, {
          agent: state.name,
          data: { code: null, signal: null },
        });
      }
      this.store.persist(state);
      // An unfinished upgrade decides itself (roll back or watch): no restart by the policy meanwhile.
      if (state.desired === 'running' && !state.fatal && !opts.noRestart) {
        const at = Math.max(this.deps.clock.now(), state.lastStartAt + this.policy.restartHoldMs);
        this.scheduleRestart(e, at);
      }
    });
  }

  /** Register a freshly installed agent (stopped until started). */
  add(state: AgentState, spec: RunSpec): Promise<void> {
    return this.serial(() => {
      // Strict: an install whose state cannot be written fails (JOB_DISK_FULL) and is not supervised.
      this.save(state);
      this.entries.set(state.name, newEntry(state, spec, this.deps.clock.now()));
    });
  }

  /** Change persisted fields (current/previous/envs/limits/spec) under the writer. */
  update(name: string, fn: (s: AgentState) => void, spec?: RunSpec): Promise<void> {
    return this.serial(() => {
      const e = this.mustGet(name);
      // Strict: a job's change is written first and only then taken in memory, so a full disk
      // fails the job (JOB_DISK_FULL) and memory and disk still agree.
      const next = structuredClone(e.state);
      fn(next);
      this.save(next);
      for (const k of Object.keys(e.state) as (keyof AgentState)[]) if (!(k in next)) delete e.state[k];
      Object.assign(e.state, next);
      if (spec) e.spec = spec;
      this.store.unsaved.delete(name);
    });
  }

  /**
   * A job asks the agent to run: clears fatal and strikes (fatal until a job resets it,
   * docs/supervision.md) and starts it when it is not running. Throws JobError when it cannot be started.
   */
  async start(name: string): Promise<void> {
    // The loop hands back the pending start in a box: awaiting it inside serial would hold the
    // loop for the precheck (and deadlock: its result comes back through serial).
    const box = await this.serial(async () => {
      const e = this.mustGet(name);
      e.restartTimer?.cancel();
      e.state.desired = 'running';
      e.state.fatal = false;
      e.state.strikes = 0;
      if (isRunning(this.deps.runner, e.state)) {
        this.store.persist(e.state);
        return undefined;
      }
      return beginStart(this.ctx, e);
    });
    if (box) await box.done;
  }

  /**
   * Stop: desired state goes to stopped, then the spec's stop (signal to the process group,
   * or a stop command), then SIGKILL to the group after stop_timeout.
   */
  async stop(name: string): Promise<void> {
    const target = await this.serial(() => {
      const e = this.mustGet(name);
      e.restartTimer?.cancel();
      cancelStart(e, 'stopped before it started');
      e.state.desired = 'stopped';
      e.state.killed = false;
      const { pid, startTicks } = e.state;
      if (!pid || !startTicks || !this.deps.runner.alive(pid, startTicks)) {
        e.state.pid = undefined;
        e.state.startTicks = undefined;
        this.store.persist(e.state);
        return undefined;
      }
      e.stopping = true;
      this.store.persist(e.state);
      return { e, pid, startTicks };
    });
    if (!target) return;
    const { e, pid, startTicks } = target;
    try {
      await stopProcess(this.deps, e, pid, startTicks);
    } finally {
      await this.serial(() => {
        e.stopping = false;
        if (e.state.pid === pid && !this.deps.runner.alive(pid, startTicks)) handleExit(this.ctx, e, pid, null, null);
      });
    }
  }

  /** Forget an agent (after stop); releases its limits. */
  remove(name: string): Promise<void> {
    return this.serial(() => {
      const e = this.entries.get(name);
      if (!e) return;
      e.restartTimer?.cancel();
      cancelStart(e, 'removed before it started');
      e.handle.release();
      this.entries.delete(name);
      this.store.unsaved.delete(name);
    });
  }

  /** Start (reset) and wait healthyMs; false with the reason when it exited or cannot start. */
  async startWatched(name: string, healthyMs: number, signal?: AbortSignal): Promise<WatchResult> {
    let failed: Promise<void> = new Promise(() => {});
    try {
      await this.serial(async () => {
        failed = armWatch(this.mustGet(name));
      });
      await this.start(name);
    } catch (err) {
      await this.serial(() => {
        const e = this.entries.get(name);
        if (e) e.watch = undefined;
      });
      return { ok: false, reason: (err as Error).message };
    }
    return awaitWatch(this.ctx, () => this.mustGet(name), failed, healthyMs, signal);
  }

  /**
   * Watch the process that runs now (adopted after a BootAgent restart) for healthyMs, without
   * starting anything: an upgrade's health window resumed. Not running: false at once.
   */
  async watchRunning(name: string, healthyMs: number, signal?: AbortSignal): Promise<WatchResult> {
    const box = await this.serial(() => {
      const e = this.mustGet(name);
      if (!isRunning(this.deps.runner, e.state)) return undefined;
      return { failed: armWatch(e) };
    });
    if (!box) return { ok: false, reason: 'not running when the BootAgent came back' };
    return awaitWatch(this.ctx, () => this.mustGet(name), box.failed, healthyMs, signal);
  }

  /** An exit seen for pid (child exit event, or a poll that found it gone). */
  exited(name: string, pid: number, code: number | null, signal: string | null): Promise<void> {
    return this.serial(() => {
      const e = this.entries.get(name);
      if (!e || e.state.pid !== pid) {
        this.deps.logger.debug({ agent: name, agentPid: pid }, 'stale exit event dropped');
        return;
      }
      handleExit(this.ctx, e, pid, code, signal);
    });
  }

  /** One tick: poll adopted pids, run due checks, clear strikes after a long run. */
  tick(): Promise<void> {
    return this.serial(() => {
      const now = this.deps.clock.now();
      for (const name of [...this.store.unsaved]) {
        const e = this.entries.get(name);
        if (e) this.store.persist(e.state);
        else this.store.unsaved.delete(name);
      }
      for (const e of this.entries.values()) {
        const { pid, startTicks } = e.state;
        if (!pid || !startTicks) continue;
        if (!this.deps.runner.alive(pid, startTicks)) {
          // Our own child's exit event is on its way with the real code; adopted ones have none.
          // Should an event never come, the second tick that finds it gone counts the exit.
          if (!e.own || (e.goneSeenAt !== undefined && e.goneSeenAt !== now)) handleExit(this.ctx, e, pid, null, null);
          else e.goneSeenAt = now;
          continue;
        }
        e.goneSeenAt = undefined;
        if (e.state.strikes > 0 && now - e.state.lastStartAt >= this.policy.strikeWindowMs) {
          e.state.strikes = 0;
          this.store.persist(e.state);
        }
        if (checkDue(this.ctx, e, now)) {
          e.lastCheckAt = now;
          e.checking = true;
          void runCheck(this.ctx, e, pid);
        }
      }
    });
  }

  reports(): AgentReport[] {
    return agentReports(this.entries.values(), this.deps.runner, this.deps.clock.now());
  }

  /** Agents whose latest state is only in memory (a save failed and waits for the next tick). */
  get unsavedAgents(): readonly string[] {
    return [...this.store.unsaved];
  }

  // ---- the writer's private steps ---------------------------------------------------------

  private scheduleRestart(e: Entry, at: number): void {
    e.restartTimer?.cancel();
    if (this.halted) return;
    const name = e.state.name;
    e.restartTimer = this.deps.clock.setTimeout(
      () => {
        void this.serial(async () => {
          const cur = this.entries.get(name);
          if (this.halted || cur !== e || e.state.desired !== 'running' || e.state.fatal || e.state.pid || e.starting)
            return;
          // Timers run on the monotonic clock and may fire a hair before the wall-clock instant
          // the hold is written in: never start early, wait out the remainder.
          if (this.deps.clock.now() < at) {
            this.scheduleRestart(e, at);
            return;
          }
          const { done } = await beginStart(this.ctx, e);
          // Not awaited here: the loop goes on while a precheck runs.
          done.catch((err: unknown) =>
            this.deps.logger.error({ agent: name, err: (err as Error).message }, 'restart failed'),
          );
        });
      },
      Math.max(0, at - this.deps.clock.now()),
    );
  }

  private scheduleTick(): void {
    if (!this.running) return;
    this.tickTimer = this.deps.clock.setTimeout(() => {
      void this.tick().finally(() => this.scheduleTick());
    }, this.deps.config.checkIntervalSec * 1000);
  }

  private mustGet(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new JobError('JOB_NOT_INSTALLED', `${name} is not installed`);
    return e;
  }
}
