/**
 * The supervisor: ONE reconcile loop, ONE writer. Everything that changes a sub-agent's state
 * (jobs' desired state, child exit events, adoption polls, restart timers, ticks) goes through
 * `serial()`, so two inputs never interleave. Exit events carry the pid they are about; an
 * event for a pid that is no longer the agent's is stale and dropped (elastic-agent's rule).
 *
 * Time comes from the injected Clock; the restart policy is the pure `decide()`.
 *
 * A start with a seed 004 precheck (up to 30 s per attempt) does not hold the loop: the loop
 * records the pending start and launches the precheck outside it; the result comes back as
 * an input through `serial()`, which then spawns (or counts the failure). Other agents' exits,
 * ticks and restarts are handled meanwhile.
 */
import { describeSocket, probeSocket } from './socket-check.ts';
import { readFileSync } from 'node:fs';
import { DiskFullWatch, isDiskFull, type Clock, type TimerHandle } from '@aspire/agent-core';
import { AgentStatus, type AgentReport, type AgentStatusWord } from '@aspire/protocol';
import type { Logger } from 'pino';
import type { EventSink, SupervisionConfig } from '../contracts.ts';
import { layout, saveState, type AgentState } from './agent-state.ts';
import { JobError } from './job-error.ts';
import { noLimits, type LimitHandle, type Limiter, type Placement } from './limits/limiter.ts';
import { decide, type PolicyConfig } from './policy.ts';
import type { ProcessRunner } from './process-runner.ts';
import { AGENT_HOME_ENV } from './process-scan.ts';
import { mergeLimits, parseLimits, type RunSpec } from './run-spec.ts';
import { resolveIds } from './users.ts';

export interface SupervisorDeps {
  clock: Clock;
  logger: Logger;
  events: EventSink;
  stateDir: string;
  config: SupervisionConfig;
  runner: ProcessRunner;
  limiter: Limiter;
  /** Where a version's files are (cwd of its processes). */
  versionDir(name: string, version: string): string;
  logFile(name: string): string;
  /** Persist (defaults to the atomic state.json write; unit tests may observe it). */
  save?: (s: AgentState) => void;
}

interface Entry {
  state: AgentState;
  spec: RunSpec;
  /** Our own child (exit event) or adopted (polled). */
  own: boolean;
  handle: LimitHandle;
  restartTimer?: TimerHandle;
  stopping: boolean;
  lastCheckAt: number;
  checking: boolean;
  watch?: { failed: boolean; reason: string; notify: () => void };
  /** Tick time an own child was first found gone without its exit event. */
  goneSeenAt?: number;
  /** A start in progress (its precheck running off the loop, or its spawn queued). */
  starting?: PendingStart;
}

/** Compared by identity: a precheck result for a start that is no longer `starting` is dropped. */
interface PendingStart {
  /** When the attempt began (a failed attempt counts as a start at this time for the policy). */
  attemptAt: number;
  /** Settles when the agent runs or the start failed; awaited by jobs, never inside serial. */
  done: Promise<void>;
  resolve(): void;
  reject(err: JobError): void;
}

export interface WatchResult {
  ok: boolean;
  reason: string;
  /** The BootAgent is stopping: the window did not end. */
  interrupted?: boolean;
}

type PrecheckResult = { ok: true } | { ok: false; message: string };

/** PATH for sub-agents: the BootAgent's own environment (maybe holding secrets) is not passed on. */
const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** One precheck attempt (it runs off the loop, but a start waits for it). */
const PRECHECK_TIMEOUT_MS = 30_000;

export class Supervisor {
  private readonly entries = new Map<string, Entry>();
  private chain: Promise<unknown> = Promise.resolve();
  private tickTimer?: TimerHandle;
  private running = false;
  /** After stopLoop: the BootAgent is going away; nothing is (re)started any more. */
  private halted = false;
  private readonly policy: PolicyConfig;
  private readonly save: (s: AgentState) => void;
  /** Agents whose state in memory is newer than their state.json (a save failed): saved again every tick. */
  private readonly unsaved = new Set<string>();
  private readonly disk = new DiskFullWatch();

  constructor(private readonly deps: SupervisorDeps) {
    const c = deps.config;
    this.policy = {
      restartHoldMs: c.restartHoldSec * 1000,
      strikeWindowMs: c.strikeWindowSec * 1000,
      maxStrikes: c.maxStrikes,
    };
    this.save = deps.save ?? ((s) => saveState(deps.stateDir, s));
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
        this.cancelStart(e, 'the BootAgent is stopping');
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
      const e: Entry = {
        state,
        spec,
        own: false,
        handle: noLimits,
        stopping: false,
        lastCheckAt: this.deps.clock.now(),
        checking: false,
      };
      this.entries.set(state.name, e);
      let pid = state.pid;
      let ticks = state.startTicks;
      if (!(pid && ticks && this.deps.runner.alive(pid, ticks))) {
        // A daemonizing agent may have re-forked: its pidfile names the process, which must
        // have started after our last start of it (else it is a reused pid).
        const p = this.pidfileProcess(e, state.lastStartAt) ?? this.processByEnv(e);
        pid = p?.pid;
        ticks = p?.ticks;
      }
      if (pid && ticks) {
        state.pid = pid;
        state.startTicks = ticks;
        this.attachLimits(e);
        this.persist(state);
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
      this.persist(state);
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
      this.entries.set(state.name, {
        state,
        spec,
        own: false,
        handle: noLimits,
        stopping: false,
        lastCheckAt: this.deps.clock.now(),
        checking: false,
      });
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
      this.unsaved.delete(name);
    });
  }

  /**
   * A job asks the agent to run: clears fatal and strikes (DESIGN.md: fatal until a job resets
   * it) and starts it when it is not running. Throws JobError when it cannot be started.
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
      if (e.state.pid && e.state.startTicks && this.deps.runner.alive(e.state.pid, e.state.startTicks)) {
        this.persist(e.state);
        return undefined;
      }
      return this.beginStart(e);
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
      this.cancelStart(e, 'stopped before it started');
      e.state.desired = 'stopped';
      e.state.killed = false;
      const { pid, startTicks } = e.state;
      if (!pid || !startTicks || !this.deps.runner.alive(pid, startTicks)) {
        e.state.pid = undefined;
        e.state.startTicks = undefined;
        this.persist(e.state);
        return undefined;
      }
      e.stopping = true;
      this.persist(e.state);
      return { e, pid, startTicks };
    });
    if (!target) return;
    const { e, pid, startTicks } = target;
    const timeoutMs = (e.spec.stopTimeoutSec ?? this.deps.config.stopTimeoutSec) * 1000;
    const deadline = this.deps.clock.monotonic() + timeoutMs;
    try {
      if (e.spec.stop.kind === 'kill') {
        this.deps.runner.signalGroup(pid, e.spec.stop.signal);
      } else {
        // The stop command learns whom to stop from ASPIRE_AGENT_PID (no shell to expand $PID).
        await this.deps.runner.run(e.spec.stop.argv, {
          cwd: this.deps.versionDir(name, e.state.current),
          env: { ...this.envFor(e), ASPIRE_AGENT_PID: String(pid) },
          ...this.ids(e),
          timeoutMs,
        });
      }
      if (!(await this.waitGone(e, pid, startTicks, deadline - this.deps.clock.monotonic()))) {
        this.deps.logger.warn(
          { agent: name, agentPid: pid, timeoutMs },
          'sub-agent ignored its stop; SIGKILL to its process group',
        );
        this.deps.runner.signalGroup(pid, 'SIGKILL');
        if (!(await this.waitGone(e, pid, startTicks, 10_000)))
          throw new JobError('JOB_STOP_FAILED', `${name} (pid ${pid}) survived SIGKILL`);
      }
    } finally {
      await this.serial(() => {
        e.stopping = false;
        if (e.state.pid === pid && !this.deps.runner.alive(pid, startTicks)) this.exitLocked(e, pid, null, null);
      });
    }
  }

  /** Forget an agent (after stop); releases its limits. */
  remove(name: string): Promise<void> {
    return this.serial(() => {
      const e = this.entries.get(name);
      if (!e) return;
      e.restartTimer?.cancel();
      this.cancelStart(e, 'removed before it started');
      e.handle.release();
      this.entries.delete(name);
      this.unsaved.delete(name);
    });
  }

  /** Start (reset) and wait healthyMs; false with the reason when it exited or cannot start. */
  async startWatched(name: string, healthyMs: number, signal?: AbortSignal): Promise<WatchResult> {
    let failed: Promise<void> = new Promise(() => {});
    try {
      await this.serial(async () => {
        const e = this.mustGet(name);
        failed = new Promise<void>((resolve) => {
          e.watch = { failed: false, reason: '', notify: resolve };
        });
      });
      await this.start(name);
    } catch (err) {
      await this.serial(() => {
        const e = this.entries.get(name);
        if (e) e.watch = undefined;
      });
      return { ok: false, reason: (err as Error).message };
    }
    return this.awaitWatch(name, failed, healthyMs, signal);
  }

  /**
   * Watch the process that runs now (adopted after a BootAgent restart) for healthyMs, without
   * starting anything: an upgrade's health window resumed. Not running: false at once.
   */
  async watchRunning(name: string, healthyMs: number, signal?: AbortSignal): Promise<WatchResult> {
    const box = await this.serial(() => {
      const e = this.mustGet(name);
      const { pid, startTicks } = e.state;
      if (!(pid && startTicks && this.deps.runner.alive(pid, startTicks))) return undefined;
      return {
        failed: new Promise<void>((resolve) => {
          e.watch = { failed: false, reason: '', notify: resolve };
        }),
      };
    });
    if (!box) return { ok: false, reason: 'not running when the BootAgent came back' };
    return this.awaitWatch(name, box.failed, healthyMs, signal);
  }

  private async awaitWatch(
    name: string,
    failed: Promise<void>,
    healthyMs: number,
    signal?: AbortSignal,
  ): Promise<WatchResult> {
    const timer = new AbortController();
    const aborted = new Promise<void>((resolve) => {
      if (signal?.aborted) resolve();
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([this.deps.clock.sleep(healthyMs, timer.signal).catch(() => {}), failed, aborted]);
    timer.abort();
    return this.serial(() => {
      const e = this.mustGet(name);
      const w = e.watch;
      e.watch = undefined;
      if (w?.failed) return { ok: false, reason: w.reason };
      // The BootAgent is stopping: leave the new version running; the upgrade marker lets the next start finish the watch.
      if (signal?.aborted)
        return { ok: false, reason: 'interrupted before the health window ended', interrupted: true };
      const alive = !!(e.state.pid && e.state.startTicks && this.deps.runner.alive(e.state.pid, e.state.startTicks));
      return alive ? { ok: true, reason: '' } : { ok: false, reason: 'not running at the end of the health window' };
    });
  }

  /** An exit seen for pid (child exit event, or a poll that found it gone). */
  exited(name: string, pid: number, code: number | null, signal: string | null): Promise<void> {
    return this.serial(() => {
      const e = this.entries.get(name);
      if (!e || e.state.pid !== pid) {
        this.deps.logger.debug({ agent: name, agentPid: pid }, 'stale exit event dropped');
        return;
      }
      this.exitLocked(e, pid, code, signal);
    });
  }

  /** One tick: poll adopted pids, run due checks, clear strikes after a long run. */
  tick(): Promise<void> {
    return this.serial(() => {
      const now = this.deps.clock.now();
      for (const name of [...this.unsaved]) {
        const e = this.entries.get(name);
        if (e) this.persist(e.state);
        else this.unsaved.delete(name);
      }
      for (const e of this.entries.values()) {
        const { pid, startTicks } = e.state;
        if (!pid || !startTicks) continue;
        if (!this.deps.runner.alive(pid, startTicks)) {
          // Our own child's exit event is on its way with the real code; adopted ones have none.
          // Should an event never come, the second tick that finds it gone counts the exit.
          if (!e.own || (e.goneSeenAt !== undefined && e.goneSeenAt !== now)) this.exitLocked(e, pid, null, null);
          else e.goneSeenAt = now;
          continue;
        }
        e.goneSeenAt = undefined;
        if (e.state.strikes > 0 && now - e.state.lastStartAt >= this.policy.strikeWindowMs) {
          e.state.strikes = 0;
          this.persist(e.state);
        }
        const every = (e.spec.checkIntervalSec ?? this.deps.config.checkIntervalSec) * 1000;
        if ((Array.isArray(e.spec.check) || e.spec.socket) && !e.checking && now - e.lastCheckAt >= every) {
          e.lastCheckAt = now;
          e.checking = true;
          void this.runCheck(e, pid);
        }
      }
    });
  }

  reports(): AgentReport[] {
    const now = this.deps.clock.now();
    const out: AgentReport[] = [];
    for (const e of this.entries.values()) {
      const s = e.state;
      const alive = !!(s.pid && s.startTicks && this.deps.runner.alive(s.pid, s.startTicks));
      const status: AgentStatusWord = s.fatal
        ? AgentStatus.FATAL
        : alive
          ? AgentStatus.RUNNING
          : s.killed
            ? AgentStatus.KILLED
            : AgentStatus.STOPPED;
      const r: AgentReport = {
        name: s.name,
        version: s.current,
        status,
        uptime: alive ? Math.max(0, Math.floor((now - s.lastStartAt) / 1000)) : 0,
        strikes: s.strikes,
      };
      if (s.previous) r.prevers = s.previous;
      if (alive && s.pid) r.pid = s.pid;
      if (s.limits) r.limits = { ...s.limits };
      out.push(r);
    }
    return out;
  }

  /** Agents whose latest state is only in memory (a save failed and waits for the next tick). */
  get unsavedAgents(): readonly string[] {
    return [...this.unsaved];
  }

  // ---- the writer's private steps (called inside serial) ----------------------------------

  /**
   * Save an agent's state.json (inside serial), never throwing: the state in memory is the
   * truth; a save that fails (full disk) marks the agent unsaved and the next tick saves it
   * again. The pid and start ticks of a process we started are never lost this way, so the
   * agent is still supervised, reported, and re-adopted (not started twice) once written.
   * A full disk is logged and sent as an event once when it begins and once when space returns.
   */
  private persist(s: AgentState): void {
    try {
      this.save(s);
    } catch (err) {
      const first = !this.unsaved.has(s.name);
      this.unsaved.add(s.name);
      if (this.disk.failed(err, this.deps.clock.now())) {
        this.deps.logger.error(
          { agent: s.name, err: (err as Error).message, stateDir: this.deps.stateDir },
          'state disk full: sub-agent state kept in memory and saved again on every supervision tick',
        );
        this.deps.events.emit(
          'disk_full',
          `sub-agent state cannot be saved: ${(err as Error).message}; kept in memory, retried`,
          { data: { what: 'sub-agent state', agent: s.name, error: (err as Error).message } },
        );
      } else if (first && !isDiskFull(err)) {
        this.deps.logger.error(
          { agent: s.name, err: (err as Error).message },
          'cannot save sub-agent state: kept in memory and saved again on every supervision tick',
        );
      }
      return;
    }
    this.unsaved.delete(s.name);
    const since = this.disk.since;
    if (this.unsaved.size === 0 && this.disk.succeeded()) {
      const fullForSec = Math.max(0, Math.round((this.deps.clock.now() - (since ?? 0)) / 1000));
      this.deps.logger.info({ fullForSec }, 'state disk writable again: sub-agent state saved');
      this.deps.events.emit(
        'disk_recovered',
        `state disk writable again after ${fullForSec} s: sub-agent state saved`,
        { data: { what: 'sub-agent state', fullForSec } },
      );
    }
  }

  private exitLocked(e: Entry, pid: number, code: number | null, signal: string | null): void {
    const s = e.state;
    e.goneSeenAt = undefined;
    const now = this.deps.clock.now();
    // seed 004 `pidfile`: a start command that daemonizes exits 0 after forking; the process
    // its pidfile names (started since our start) is the agent from now on, watched by polling.
    const daemon =
      code === 0 && !e.stopping && s.desired === 'running' ? this.pidfileProcess(e, s.lastStartAt, pid) : undefined;
    if (daemon) {
      s.pid = daemon.pid;
      s.startTicks = daemon.ticks;
      e.own = false;
      this.attachLimits(e);
      this.persist(s);
      this.deps.logger.info(
        { agent: s.name, launcher: pid, agentPid: daemon.pid },
        'following the daemonized sub-agent named by its pidfile',
      );
      return;
    }
    const limitKill = e.handle.killedForLimit({ signal });
    e.handle.release();
    e.handle = noLimits;
    s.pid = undefined;
    s.startTicks = undefined;
    const how = signal ? `signal ${signal}` : code === null ? 'unknown status' : `code ${code}`;
    this.deps.events.emit('exit', `${s.name} (pid ${pid}) exited with ${how}`, {
      agent: s.name,
      data: { pid, code, signal, ranSec: Math.floor((now - s.lastStartAt) / 1000) },
    });
    if (s.desired === 'stopped' || e.stopping) {
      this.deps.events.emit('stopped', `${s.name} stopped`, { agent: s.name, data: { pid } });
      this.persist(s);
      return;
    }
    if (limitKill) {
      s.killed = true;
      this.deps.events.emit('killed', `${s.name} (pid ${pid}) was killed for exceeding its limits`, {
        agent: s.name,
        data: { pid, signal, limits: s.limits ?? null },
      });
    }
    if (e.watch) {
      // An upgrade is watching this start: it decides (rollback), not the restart policy.
      e.watch.failed = true;
      e.watch.reason = `exited with ${how} within the health window`;
      e.watch.notify();
      this.persist(s);
      return;
    }
    const d = decide(
      { lastStartAt: s.lastStartAt, strikes: s.strikes },
      { at: now, code, signal, limitKill },
      now,
      this.policy,
    );
    s.strikes = d.strikes;
    if (d.struck)
      this.deps.events.emit('strike', `${s.name} strike ${d.strikes} of ${this.policy.maxStrikes}`, {
        agent: s.name,
        data: { strikes: d.strikes },
      });
    if (d.fatal) {
      s.fatal = true;
      this.deps.logger.error(
        { agent: s.name, strikes: d.strikes },
        'sub-agent is fatal: not restarted until a job resets it',
      );
      this.deps.events.emit('fatal', `${s.name} is fatal after ${d.strikes} strikes`, {
        agent: s.name,
        data: { strikes: d.strikes },
      });
    } else if (d.restartAt !== undefined) {
      this.scheduleRestart(e, d.restartAt);
    }
    this.persist(s);
  }

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
          const { done } = await this.beginStart(e);
          // Not awaited here: the loop goes on while a precheck runs.
          done.catch((err: unknown) =>
            this.deps.logger.error({ agent: name, err: (err as Error).message }, 'restart failed'),
          );
        });
      },
      Math.max(0, at - this.deps.clock.now()),
    );
  }

  private envFor(e: Entry): Record<string, string> {
    return {
      PATH: BASE_PATH,
      ASPIRE_AGENT_NAME: e.state.name,
      ASPIRE_AGENT_VERSION: e.state.current,
      ...e.spec.env,
      ...e.state.envs,
    };
  }

  private ids(e: Entry): { uid?: number; gid?: number } {
    return resolveIds(e.spec.user, e.spec.group);
  }

  /**
   * The process named by the spec's pidfile, when it is alive and started no earlier than
   * `since` (wall ms): an older process holding that pid is someone else (pid reuse).
   */
  private pidfileProcess(e: Entry, since: number, not?: number): { pid: number; ticks: string } | undefined {
    if (!e.spec.pidfile) return undefined;
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(e.spec.pidfile, 'utf8').trim(), 10);
    } catch {
      return undefined;
    }
    if (!Number.isInteger(pid) || pid <= 1 || pid === not || pid === process.pid) return undefined;
    const ticks = this.deps.runner.startTicks(pid);
    const at = this.deps.runner.startedAtMs(pid);
    if (!ticks || at === undefined || at < since - 2000) return undefined;
    return { pid, ticks };
  }

  /**
   * The agent's live process found by the ASPIRE_AGENT_HOME entry its spawn carried
   * (process-scan.ts): a process we started whose pid never reached state.json (full disk, then
   * the BootAgent died). Adopting it, instead of starting a second copy, keeps one agent running.
   */
  private processByEnv(e: Entry): { pid: number; ticks: string } | undefined {
    const found = this.deps.runner.findByEnv?.(this.homeEnvEntry(e.state.name)) ?? [];
    const first = found[0];
    if (!first) return undefined;
    this.deps.logger.warn(
      {
        agent: e.state.name,
        agentPid: first.pid,
        recordedPid: e.state.pid ?? null,
        others: found.slice(1).map((f) => f.pid),
      },
      'sub-agent process found by its environment (its pid was never saved): adopting it, not starting another',
    );
    return { pid: first.pid, ticks: first.startTicks };
  }

  private homeEnvEntry(name: string): string {
    return `${AGENT_HOME_ENV}=${layout(this.deps.stateDir, name).root}`;
  }

  /**
   * Begin a start (inside serial). Without a precheck the spawn happens now; with one, the
   * precheck runs off the loop and its result re-enters through serial (precheckDone). The
   * returned box holds the promise that settles when the agent runs (or the start failed).
   */
  private async beginStart(e: Entry): Promise<{ done: Promise<void> }> {
    if (e.starting) return { done: e.starting.done };
    let resolve!: () => void;
    let reject!: (err: JobError) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(() => {}); // a restart timer's start may have no waiter
    const p: PendingStart = { attemptAt: this.deps.clock.now(), done, resolve, reject };
    e.starting = p;
    if (!e.spec.precheck) {
      await this.spawnStep(e, p);
      return { done };
    }
    let ids: { uid?: number; gid?: number };
    try {
      ids = this.ids(e);
    } catch (err) {
      this.startFailed(e, p, `${e.state.name}: cannot start ${e.spec.start[0]}: ${(err as Error).message}`);
      return { done };
    }
    const name = e.state.name;
    const checked = this.precheck(e, ids).catch(
      (err: unknown): PrecheckResult => ({
        ok: false,
        message: `${name}: precheck could not run: ${(err as Error).message}`,
      }),
    );
    void checked.then((result) =>
      this.serial(async () => {
        if (e.starting !== p) return; // cancelled (stop, remove, shutdown): the result is moot
        if (!result.ok) this.startFailed(e, p, result.message);
        else await this.spawnStep(e, p);
      }).catch((err: unknown) =>
        this.deps.logger.error({ agent: name, err: (err as Error).message }, 'start after precheck failed'),
      ),
    );
    return { done };
  }

  /** Drop a pending start: its waiters get JOB_START_FAILED; a late precheck result is ignored. */
  private cancelStart(e: Entry, why: string): void {
    const p = e.starting;
    if (!p) return;
    e.starting = undefined;
    p.reject(new JobError('JOB_START_FAILED', `${e.state.name}: ${why}`));
  }

  /** Spawn (inside serial), the agent's process joining its limits before its program runs. */
  private async spawnStep(e: Entry, p: PendingStart): Promise<void> {
    const s = e.state;
    if (this.halted || this.entries.get(s.name) !== e || s.desired !== 'running') {
      this.cancelStart(e, 'no longer wanted running');
      return;
    }
    let pidBox = 0;
    let placement: Placement | undefined;
    try {
      const ids = this.ids(e);
      placement = this.prepareLimits(e);
      const spawned = await this.deps.runner.spawn(
        {
          argv: e.spec.start,
          cwd: this.deps.versionDir(s.name, s.current),
          env: { ...this.envFor(e), [AGENT_HOME_ENV]: layout(this.deps.stateDir, s.name).root },
          ...ids,
          logFile: this.deps.logFile(s.name),
          cgroupProcs: placement.procsFiles,
        },
        (code, signal) => void this.exited(s.name, pidBox, code, signal),
      );
      pidBox = spawned.pid;
      s.pid = spawned.pid;
      s.startTicks = spawned.startTicks;
      e.handle = placement.bind(spawned.pid);
    } catch (err) {
      placement?.cancel();
      const msg =
        err instanceof JobError ? err.message : `${s.name}: cannot start ${e.spec.start[0]}: ${(err as Error).message}`;
      this.startFailed(e, p, msg);
      return;
    }
    const now = this.deps.clock.now();
    e.starting = undefined;
    s.lastStartAt = now;
    s.killed = false;
    e.own = true;
    e.lastCheckAt = now;
    this.persist(s);
    // startedAt is the instant the restart hold counts from (the log line's own time comes after the state fsync).
    this.deps.logger.info({ agent: s.name, version: s.current, agentPid: s.pid, startedAt: now }, 'sub-agent started');
    this.deps.events.emit('started', `${s.name} ${s.current} started (pid ${s.pid})`, {
      agent: s.name,
      data: { pid: s.pid, version: s.current, startedAt: now },
    });
    p.resolve();
  }

  /** A start that failed (inside serial) is an abnormal exit for the policy, unless an upgrade watches it. */
  private startFailed(e: Entry, p: PendingStart, msg: string): void {
    const s = e.state;
    const at = p.attemptAt;
    if (e.starting === p) e.starting = undefined;
    s.lastStartAt = at;
    this.deps.events.emit('exit', msg, { agent: s.name, data: { code: null, signal: null, spawnError: true } });
    if (e.watch) {
      e.watch.failed = true;
      e.watch.reason = msg;
      e.watch.notify();
    } else {
      const now = this.deps.clock.now();
      const d = decide(
        { lastStartAt: at, strikes: s.strikes },
        { at: now, code: null, signal: null, limitKill: false },
        now,
        this.policy,
      );
      s.strikes = d.strikes;
      if (d.struck)
        this.deps.events.emit('strike', `${s.name} strike ${d.strikes} of ${this.policy.maxStrikes}`, {
          agent: s.name,
          data: { strikes: d.strikes },
        });
      if (d.fatal) {
        s.fatal = true;
        this.deps.events.emit('fatal', `${s.name} is fatal after ${d.strikes} strikes`, {
          agent: s.name,
          data: { strikes: d.strikes },
        });
      } else if (d.restartAt !== undefined) this.scheduleRestart(e, d.restartAt);
    }
    this.persist(s);
    p.reject(new JobError('JOB_START_FAILED', msg));
  }

  /**
   * seed 004 precheck, OFF the loop: up to precheckAttempts runs, 1 s apart. Reads nothing the
   * loop writes after the call (argv, cwd and env are taken now).
   */
  private async precheck(e: Entry, ids: { uid?: number; gid?: number }): Promise<PrecheckResult> {
    const argv = e.spec.precheck!;
    const attempts = e.spec.precheckAttempts;
    const opts = {
      cwd: this.deps.versionDir(e.state.name, e.state.current),
      env: this.envFor(e),
      ...ids,
      timeoutMs: PRECHECK_TIMEOUT_MS,
    };
    const name = e.state.name;
    let code: number | null = null;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      code = await this.deps.runner.run(argv, opts).catch(() => null);
      if (code === 0) return { ok: true };
      if (attempt < attempts) await this.deps.clock.sleep(1000);
    }
    return {
      ok: false,
      message: `${name}: precheck ${argv.join(' ')} failed (${code === null ? 'killed or timed out' : `exit ${code}`}) ${attempts} time(s)`,
    };
  }

  private prepareLimits(e: Entry): Placement {
    const limits = mergeLimits(e.spec.limits, e.state.limits ? parseLimits(e.state.limits) : undefined);
    try {
      return this.deps.limiter.prepare(e.state.name, limits);
    } catch (err) {
      // An agent must not run unlimited when limits were asked for: the start fails.
      this.deps.logger.error(
        { agent: e.state.name, err: (err as Error).message, limiter: this.deps.limiter.kind },
        'cannot apply limits',
      );
      throw new JobError(
        'JOB_START_FAILED',
        `${e.state.name}: cannot apply limits (${this.deps.limiter.kind}): ${(err as Error).message}`,
      );
    }
  }

  private attachLimits(e: Entry): void {
    const limits = mergeLimits(e.spec.limits, e.state.limits ? parseLimits(e.state.limits) : undefined);
    try {
      e.handle = this.deps.limiter.attach(e.state.name, e.state.pid!, limits);
    } catch (err) {
      // An agent must not run unlimited when limits were asked for: kill it, report why.
      this.deps.logger.error(
        { agent: e.state.name, err: (err as Error).message, limiter: this.deps.limiter.kind },
        'cannot apply limits',
      );
      this.deps.runner.signalGroup(e.state.pid!, 'SIGKILL');
      throw new JobError(
        'JOB_START_FAILED',
        `${e.state.name}: cannot apply limits (${this.deps.limiter.kind}): ${(err as Error).message}`,
      );
    }
  }

  /** The `socket` connect (first) and the check command, off the loop; a failure kills the agent. */
  private async runCheck(e: Entry, pid: number): Promise<void> {
    const timeoutMs = Math.max(1000, (e.spec.checkIntervalSec ?? this.deps.config.checkIntervalSec) * 1000);
    let code: number | null = 0;
    let failed: string | undefined;
    try {
      const sock = e.spec.socket;
      const refused = sock ? await probeSocket(sock, timeoutMs, this.deps.clock) : undefined;
      if (sock && refused !== undefined) failed = `socket ${describeSocket(sock)} check failed (${refused})`;
      else if (Array.isArray(e.spec.check)) {
        code = await this.deps.runner.run(e.spec.check, {
          cwd: this.deps.versionDir(e.state.name, e.state.current),
          env: { ...this.envFor(e), ASPIRE_AGENT_PID: String(pid) },
          ...this.ids(e),
          timeoutMs,
        });
        if (code !== 0) failed = 'check command failed';
      }
    } finally {
      e.checking = false;
    }
    if (failed !== undefined) {
      await this.serial(() => {
        if (e.state.pid !== pid) return;
        this.deps.logger.warn(
          { agent: e.state.name, agentPid: pid, code },
          `${failed}: killing the sub-agent so the policy restarts it`,
        );
        this.deps.runner.signalGroup(pid, 'SIGKILL');
      });
    }
  }

  /**
   * Wait for pid to be gone. For our own child, wait for its exit event to be processed (it
   * carries the real code/signal), but no longer than a second after the pid vanished.
   */
  private async waitGone(e: Entry, pid: number, startTicks: string, timeoutMs: number): Promise<boolean> {
    const deadline = this.deps.clock.monotonic() + Math.max(0, timeoutMs);
    let goneAt: number | undefined;
    for (;;) {
      if (e.state.pid !== pid) return true;
      if (!this.deps.runner.alive(pid, startTicks)) {
        goneAt ??= this.deps.clock.monotonic();
        if (!e.own || this.deps.clock.monotonic() - goneAt >= 1000) return true;
      }
      if (goneAt === undefined && this.deps.clock.monotonic() >= deadline) return false;
      await this.deps.clock.sleep(
        goneAt === undefined ? Math.min(50, Math.max(1, deadline - this.deps.clock.monotonic())) : 20,
      );
    }
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
