/**
 * createSubAgentManager: the sub-agent side of the BootAgent. Jobs are run one at a time
 * (install upgrade uninstall start stop restart); each is a short list of named steps
 * (download -> verify -> stage -> activate -> start/watch -> commit or roll back). Process
 * state changes go through the Supervisor, the single writer.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isDiskFull } from '@aspire/agent-core';
import { ErrorCode, subAgentJob, type AgentReport, type SubAgentJob } from '@aspire/protocol';
import type { JobOutcome, SubAgentManager, SubAgentManagerDeps } from '../contracts.ts';
import { layout, loadAllStates, removeAgentDir, type AgentState } from './agent-state.ts';
import { download, redact } from './download.ts';
import { fsJobError, JobError } from './job-error.ts';
import type { Limiter } from './limits/limiter.ts';
import { probeLimiter } from './limits/probe.ts';
import { readSpecFile, stagePackage, type Staged } from './package-stage.ts';
import { createProcessRunner, type ProcessRunner } from './process-runner.ts';
import { execFileText, rpmErase, rpmInstall, rpmQuery, type RpmOptions } from './rpm.ts';
import { applyEnvRule } from './env-rule.ts';
import { parseLimits, RUN_SPEC_FILE, splitCommand, type RunSpec } from './run-spec.ts';
import { Supervisor } from './supervisor.ts';
import {
  readUpgradeMarkers,
  removeUpgradeMarker,
  writeUpgradeMarker,
  type UpgradeMarker,
  type UpgradeStep,
} from './upgrade-marker.ts';

export interface ManagerExtras {
  /** Override process control (unit tests). */
  runner?: ProcessRunner;
  /** Override the probed limiter. */
  limiter?: Limiter;
}

export function createSubAgentManager(deps: SubAgentManagerDeps & ManagerExtras): SubAgentManager {
  const log = deps.logger.child({ component: 'subagents' });
  const rpm: RpmOptions = deps.rpm ?? {};
  const tmpDir = join(deps.stateDir, '.tmp');
  let sup: Supervisor | undefined;
  let jobChain: Promise<unknown> = Promise.resolve();
  /** Upgrade markers found at start, finished by resumeInterrupted(). */
  let unfinished: UpgradeMarker[] = [];

  function supervisor(): Supervisor {
    if (!sup) {
      const limiter =
        deps.limiter ??
        probeLimiter({
          cgroupRoot: deps.config.cgroupRoot,
          parent: deps.cgroupParent ?? 'aspire',
          clock: deps.clock,
          watchdogIntervalMs: deps.config.watchdogIntervalSec * 1000,
          logger: log,
        });
      log.info({ limiter: limiter.kind }, 'sub-agent limits enforced by');
      sup = new Supervisor({
        clock: deps.clock,
        logger: log,
        events: deps.events,
        stateDir: deps.stateDir,
        config: deps.config,
        runner: deps.runner ?? createProcessRunner(),
        limiter,
        versionDir: (name, version) => layout(deps.stateDir, name).versionDir(version),
        logFile: (name) => layout(deps.stateDir, name).logFile,
      });
    }
    return sup;
  }

  function specOf(name: string, version: string): RunSpec {
    return readSpecFile(join(layout(deps.stateDir, name).versionDir(version), RUN_SPEC_FILE), `${name} ${version}`);
  }

  /**
   * Clean what a BootAgent killed mid-job left: temp downloads, half-extracted staging dirs,
   * and an agent dir whose install never reached its state.json.
   */
  function sweepLeftovers(): void {
    const ls = (dir: string): string[] => {
      try {
        return readdirSync(dir);
      } catch {
        return [];
      }
    };
    for (const f of ls(tmpDir)) rmSync(join(tmpDir, f), { recursive: true, force: true });
    for (const name of ls(deps.stateDir)) {
      if (name.startsWith('.')) continue;
      const l = layout(deps.stateDir, name);
      if (!existsSync(l.stateFile)) {
        log.warn({ agent: name }, 'removing a sub-agent dir left by an interrupted install');
        rmSync(l.root, { recursive: true, force: true });
        continue;
      }
      for (const v of ls(l.versionsDir))
        if (v.startsWith('.staging-')) rmSync(join(l.versionsDir, v), { recursive: true, force: true });
    }
  }

  // ---- steps ----------------------------------------------------------------------------

  async function fetchAndStage(job: SubAgentJob, signal: AbortSignal, protect: string[]): Promise<Staged> {
    if (!job.url) throw new JobError('JOB_INVALID', `${job.action}: url is required`);
    const dl = await download(job.url, job.checksum, {
      tmpDir,
      maxBytes: deps.config.downloadMaxBytes,
      signal,
      ...(deps.caFile ? { caFile: deps.caFile } : {}),
    });
    try {
      log.info({ agent: job.name, url: redact(job.url), bytes: dl.size }, 'package downloaded and verified');
      return await stagePackage({
        file: dl.path,
        name: job.name,
        jobVersion: job.version,
        versionsDir: layout(deps.stateDir, job.name).versionsDir,
        rpm,
        protect,
      });
    } finally {
      dl.remove();
    }
  }

  /** Put a staged package in place: rpm -U for rpms (then copy its spec beside it). */
  async function activate(staged: Staged, signal: AbortSignal): Promise<RunSpec> {
    if (staged.type === 'tar') return staged.spec;
    await rpmInstall(rpm, staged.rpm!.file, { oldpackage: true, signal });
    copyFileSync(join(rpm.root ?? '/', staged.rpm!.specPath), join(staged.dir, RUN_SPEC_FILE));
    const spec = specOf(staged.rpm!.name, staged.version);
    if (spec.version !== staged.version)
      log.warn(
        { spec: spec.version, rpm: staged.version },
        'agent.json version differs from the rpm version; the rpm version is reported',
      );
    return spec;
  }

  /** command://CMD (seed 000): run CMD as argv, no shell; the rpm it installs must carry agent.json. */
  async function runCommandSource(job: SubAgentJob, signal: AbortSignal): Promise<{ version: string; spec: RunSpec }> {
    const argv = splitCommand(job.url!.slice('command://'.length));
    if (argv.length === 0) throw new JobError('JOB_INVALID', 'command:// has no command');
    const r = await execFileText(argv[0]!, argv.slice(1), { timeoutMs: 1_800_000, signal });
    if (r.code !== 0)
      throw new JobError('JOB_INSTALL_FAILED', `${argv.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(-1000)}`);
    const info = await rpmQuery(rpm, job.name, true);
    const dir = layout(deps.stateDir, job.name).versionDir(info.version);
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(rpm.root ?? '/', info.specPath), join(dir, RUN_SPEC_FILE));
    return { version: info.version, spec: specOf(job.name, info.version) };
  }

  /** Start, then honour the spec's start_delay: the job fails if the agent did not stay up. */
  async function startAndSettle(name: string, signal: AbortSignal): Promise<void> {
    const s = supervisor();
    await s.start(name);
    const delay = s.spec(name)?.startDelaySec;
    if (!delay) return;
    await deps.clock.sleep(delay * 1000, signal).catch(() => {});
    const r = s.reports().find((x) => x.name === name);
    if (r?.status !== 'running')
      throw new JobError(
        'JOB_START_FAILED',
        `${name} did not stay up for its start_delay of ${delay} s (status ${r?.status ?? 'unknown'})`,
      );
  }

  function applyJobSettings(s: AgentState, job: SubAgentJob): void {
    if (job.envs) s.envs = { ...job.envs };
    if (job.limits) s.limits = { ...job.limits };
  }

  /** The `;` rule of envs (env-rule.ts): PATH lists rewritten and logged, a mixed one refused. */
  function checkEnvs(job: SubAgentJob): SubAgentJob {
    if (!job.envs) return job;
    const r = applyEnvRule(job.envs, 'envs');
    if (r.problems.length) throw new JobError('JOB_INVALID', r.problems.join('; '));
    for (const note of r.notes) log.info({ agent: job.name }, note);
    return r.notes.length ? { ...job, envs: r.env } : job;
  }

  function checkLimits(job: SubAgentJob): void {
    const problems: string[] = [];
    if (job.limits) parseLimits(job.limits, problems);
    if (problems.length) throw new JobError('JOB_INVALID', problems.join('; '));
  }

  async function install(job: SubAgentJob, signal: AbortSignal, stop: AbortSignal = signal): Promise<string> {
    const s = supervisor();
    if (s.has(job.name)) return upgrade(job, signal, true, stop);
    if (!job.url) throw new JobError('JOB_INVALID', 'install: url is required');
    let version: string;
    let spec: RunSpec;
    let kind: AgentState['kind'] = 'tar';
    let staged: Staged | undefined;
    try {
      if (job.url.startsWith('command://')) {
        ({ version, spec } = await runCommandSource(job, signal));
        kind = 'rpm';
      } else {
        staged = await fetchAndStage(job, signal, []);
        try {
          spec = await activate(staged, signal);
        } catch (err) {
          staged.discard();
          throw err;
        }
        version = staged.version;
        kind = staged.type;
      }
    } catch (err) {
      // A failed first install leaves no trace of the agent (its dir only held staging).
      removeAgentDir(deps.stateDir, job.name);
      throw err;
    }
    const state: AgentState = {
      name: job.name,
      current: version,
      kind,
      rpmName: kind === 'rpm' ? job.name : undefined,
      desired: 'running',
      fatal: false,
      killed: false,
      strikes: 0,
      lastStartAt: 0,
      envs: {},
    };
    applyJobSettings(state, job);
    await s.add(state, spec);
    deps.events.emit('installed', `${job.name} ${version} installed`, { agent: job.name, data: { version } });
    await startAndSettle(job.name, signal);
    return `${job.name} ${version} installed and running`;
  }

  /** Record the step an upgrade is about to take; a marker that cannot be written stops it there. */
  function mark(m: UpgradeMarker): void {
    try {
      writeUpgradeMarker(deps.stateDir, m);
    } catch (err) {
      throw fsJobError(err, `${m.name} upgrade: recording step ${m.step}`);
    }
  }

  /** Best effort: a rollback goes on even when its marker cannot be written. */
  function tryMark(m: UpgradeMarker): void {
    try {
      writeUpgradeMarker(deps.stateDir, m);
    } catch (err) {
      log.error(
        { agent: m.name, step: m.step, err: (err as Error).message },
        'cannot record the upgrade step; going on',
      );
    }
  }

  async function upgrade(
    job: SubAgentJob,
    signal: AbortSignal,
    viaInstall = false,
    stop: AbortSignal = signal,
  ): Promise<string> {
    const s = supervisor();
    const old = s.get(job.name);
    if (!old) throw new JobError('JOB_NOT_INSTALLED', `${job.name} is not installed`);
    if (!job.url) throw new JobError('JOB_INVALID', `${job.action}: url is required`);
    const snapshot: AgentState = structuredClone(old as AgentState);
    if (job.version && job.version === snapshot.current) {
      await s.update(job.name, (st) => applyJobSettings(st, job));
      await s.start(job.name);
      return `${job.name} ${snapshot.current} already installed${viaInstall ? '' : '; nothing to upgrade'}`;
    }
    const marker = (step: UpgradeStep, to: string | undefined, extra: Partial<UpgradeMarker> = {}): UpgradeMarker => ({
      version: 1,
      jobId: job.id,
      name: job.name,
      step,
      from: snapshot.current,
      ...(to !== undefined ? { to } : {}),
      snapshot,
      at: deps.clock.now(),
      ...extra,
    });
    let staged: Staged | undefined;
    let version: string;
    let newSpec: RunSpec;
    const protect = [snapshot.current, ...(snapshot.previous ? [snapshot.previous] : [])];
    mark(marker('fetch', job.version));
    try {
      if (job.url.startsWith('command://')) {
        mark(marker('activate', job.version));
        await s.stop(job.name);
        ({ version, spec: newSpec } = await runCommandSource(job, signal));
      } else {
        staged = await fetchAndStage(job, signal, protect);
        version = staged.version;
        if (version === snapshot.current) {
          removeUpgradeMarker(deps.stateDir, job.name);
          await s.update(job.name, (st) => applyJobSettings(st, job));
          await s.start(job.name);
          return `${job.name} ${version} already installed`;
        }
        mark(marker('activate', version));
        await s.stop(job.name);
        try {
          newSpec = await activate(staged, signal);
        } catch (err) {
          staged.discard();
          await s.start(job.name);
          throw err;
        }
      }
    } catch (err) {
      // Before the switch the old version is (again) what runs: the failure is the result.
      removeUpgradeMarker(deps.stateDir, job.name);
      throw err;
    }
    const watchUntil = deps.clock.now() + deps.config.upgradeHealthySec * 1000;
    mark(marker('watch', version, { watchUntil }));
    try {
      await s.update(
        job.name,
        (st) => {
          st.previous = snapshot.current;
          st.current = version;
          // The new version may come as the other package type (tar.gz <-> rpm, or command://).
          st.kind = staged ? staged.type : 'rpm';
          st.rpmName = st.kind === 'rpm' ? job.name : undefined;
          applyJobSettings(st, job);
        },
        newSpec,
      );
    } catch (err) {
      return rollBack(
        marker('rollback', version, { reason: `cannot record ${version} as current: ${(err as Error).message}` }),
      );
    }
    // Past the point of no return: only the BootAgent's stop cuts the health window (it resumes
    // on the next start); a revoke arriving now does not (the new version is in place).
    const watched = await s.startWatched(job.name, deps.config.upgradeHealthySec * 1000, stop);
    if (watched.interrupted) {
      // The marker stays at `watch`: the next start of the BootAgent finishes the health window.
      throw new JobError(
        'JOB_INTERRUPTED',
        `${job.name} upgrade ${snapshot.current} -> ${version}: BootAgent stopping in the health window; its next start finishes it`,
        true,
      );
    }
    if (watched.ok) return commitUpgrade(marker('commit', version));
    return rollBack(marker('rollback', version, { reason: watched.reason }));
  }

  /** The new version passed its health window: prune, report. */
  function commitUpgrade(m: UpgradeMarker): string {
    tryMark(m);
    const to = m.to!;
    pruneVersions(m.name, [to, m.from]);
    deps.events.emit('upgraded', `${m.name} upgraded ${m.from} -> ${to}`, {
      agent: m.name,
      data: { from: m.from, to },
    });
    removeUpgradeMarker(deps.stateDir, m.name);
    return `${m.name} upgraded ${m.from} -> ${to}`;
  }

  /** Roll back: the old version's files (rpm) and state back in place, started again. Always throws JOB_ROLLED_BACK. */
  async function rollBack(m: UpgradeMarker): Promise<never> {
    const s = supervisor();
    const { snapshot, name } = m;
    const to = m.to ?? '?';
    const reason = m.reason ?? 'rolled back';
    tryMark(m);
    log.warn({ agent: name, from: m.from, to, reason }, 'upgrade failed its health window: rolling back');
    await s.stop(name);
    let restoreNote = '';
    if (snapshot.kind === 'rpm') {
      const oldRpm = join(layout(deps.stateDir, name).versionDir(snapshot.current), 'package.rpm');
      try {
        await rpmInstall(rpm, oldRpm, { oldpackage: true });
      } catch (err) {
        restoreNote = `; restoring the old rpm failed: ${(err as Error).message}`;
      }
    }
    await s.update(
      name,
      (st) => Object.assign(st, { ...snapshot, pid: undefined, startTicks: undefined }),
      specOf(name, snapshot.current),
    );
    if (m.to !== undefined && m.to !== snapshot.current && m.to !== snapshot.previous)
      rmSync(layout(deps.stateDir, name).versionDir(m.to), { recursive: true, force: true });
    let running = 'and running';
    try {
      await s.start(name);
    } catch (err) {
      running = `but it did not start: ${(err as Error).message}`;
    }
    deps.events.emit('rollback', `${name} upgrade to ${to} rolled back to ${snapshot.current}: ${reason}`, {
      agent: name,
      data: { from: snapshot.current, to, reason },
    });
    removeUpgradeMarker(deps.stateDir, name);
    throw new JobError(
      'JOB_ROLLED_BACK',
      `${name} ${to} ${reason}; rolled back to ${snapshot.current} ${running}${restoreNote}`,
    );
  }

  /**
   * Finish an upgrade a BootAgent restart cut short, from the step its marker names: the
   * reported result then matches what runs (docs/supervision.md "Upgrades cut short").
   */
  async function resumeUpgrade(m: UpgradeMarker, signal: AbortSignal): Promise<string> {
    const s = supervisor();
    const cur = s.get(m.name);
    const what = `${m.name} upgrade ${m.from} -> ${m.to ?? '?'}`;
    log.warn(
      { agent: m.name, jobId: m.jobId, step: m.step, from: m.from, to: m.to },
      'finishing an upgrade cut short by a BootAgent restart',
    );
    if (!cur) {
      removeUpgradeMarker(deps.stateDir, m.name);
      throw new JobError('JOB_INTERRUPTED', `${what}: cut short in step ${m.step}; ${m.name} is no longer installed`);
    }
    switch (m.step) {
      case 'fetch':
        // Nothing was switched: drop what was staged, the old version runs on.
        pruneVersions(m.name, [cur.current, ...(cur.previous ? [cur.previous] : [])]);
        removeUpgradeMarker(deps.stateDir, m.name);
        throw new JobError(
          'JOB_INTERRUPTED',
          `${what}: the BootAgent stopped while the package was fetched; nothing changed, ${cur.current} is still current`,
        );
      case 'commit':
        return commitUpgrade(m);
      case 'watch': {
        if (cur.current !== m.to)
          return rollBack({
            ...m,
            step: 'rollback',
            reason: 'the BootAgent stopped before the new version was recorded',
          });
        const remaining = Math.max(0, (m.watchUntil ?? 0) - deps.clock.now());
        const w = await s.watchRunning(m.name, remaining, signal);
        if (w.interrupted)
          throw new JobError(
            'JOB_INTERRUPTED',
            `${what}: BootAgent stopping in the health window; its next start finishes it`,
            true,
          );
        if (w.ok) return commitUpgrade({ ...m, step: 'commit' });
        return rollBack({
          ...m,
          step: 'rollback',
          reason: `${w.reason} (health window resumed after a BootAgent restart)`,
        });
      }
      case 'activate':
        return rollBack({
          ...m,
          step: 'rollback',
          reason: 'the BootAgent stopped while the new version was put in place',
        });
      case 'rollback':
        return rollBack({ ...m, reason: m.reason ?? 'rollback cut short by a BootAgent restart' });
    }
  }

  /** A failed job step as its result (handleJob never throws). */
  function outcomeOf(err: unknown, job: Pick<SubAgentJob, 'id' | 'action' | 'name'>): JobOutcome {
    if (err instanceof JobError) {
      log.warn(
        { job: job.id, action: job.action, agent: job.name, errcode: err.errcode, err: err.message },
        'sub-agent job failed',
      );
      return { errcode: err.errcode, message: err.message, ...(err.resumeLater ? { resumeLater: true } : {}) };
    }
    log.error({ job: job.id, err }, 'sub-agent job failed unexpectedly');
    const e = err as NodeJS.ErrnoException;
    if (isDiskFull(e)) return { errcode: ErrorCode.JOB_DISK_FULL, message: e.message };
    return {
      errcode: ErrorCode.JOB_INSTALL_FAILED,
      message: `${job.action} ${job.name}: ${e?.message ?? String(err)}`,
    };
  }

  function pruneVersions(name: string, keep: string[]): void {
    const dir = layout(deps.stateDir, name).versionsDir;
    try {
      for (const v of readdirSync(dir)) if (!keep.includes(v)) rmSync(join(dir, v), { recursive: true, force: true });
    } catch {
      /* nothing to prune */
    }
  }

  /**
   * Remove an uninstalled agent's cgroups. The exit handling already tried; a group whose
   * last task is still being torn down refuses rmdir for a moment, so retry briefly.
   */
  async function forgetGroups(name: string): Promise<void> {
    const limiter = supervisor().limiter;
    for (let attempt = 0; attempt < 20; attempt++) {
      if (limiter.forget(name)) return;
      await deps.clock.sleep(100);
    }
    log.warn({ agent: name, limiter: limiter.kind }, 'uninstalled, but a cgroup of it still has tasks: left in place');
  }

  async function uninstall(job: SubAgentJob): Promise<string> {
    const s = supervisor();
    const st = s.get(job.name);
    if (!st) throw new JobError('JOB_NOT_INSTALLED', `${job.name} is not installed`);
    const { kind, rpmName, current } = st;
    await s.stop(job.name);
    await s.remove(job.name);
    await forgetGroups(job.name);
    if (kind === 'rpm') await rpmErase(rpm, rpmName ?? job.name);
    removeAgentDir(deps.stateDir, job.name);
    deps.events.emit('uninstalled', `${job.name} ${current} uninstalled`, {
      agent: job.name,
      data: { version: current },
    });
    return `${job.name} uninstalled`;
  }

  async function runJob(given: SubAgentJob, signal: AbortSignal, stop: AbortSignal): Promise<string> {
    const job = checkEnvs(given);
    checkLimits(job);
    const s = supervisor();
    switch (job.action) {
      case 'install':
        return install(job, signal, stop);
      case 'upgrade':
        return upgrade(job, signal, false, stop);
      case 'uninstall':
        return uninstall(job);
      case 'start':
        if (!s.has(job.name)) throw new JobError('JOB_NOT_INSTALLED', `${job.name} is not installed`);
        await s.update(job.name, (st) => applyJobSettings(st, job));
        await startAndSettle(job.name, signal);
        return `${job.name} running`;
      case 'stop':
        if (!s.has(job.name)) throw new JobError('JOB_NOT_INSTALLED', `${job.name} is not installed`);
        await s.stop(job.name);
        return `${job.name} stopped`;
      case 'restart':
        if (!s.has(job.name)) throw new JobError('JOB_NOT_INSTALLED', `${job.name} is not installed`);
        await s.update(job.name, (st) => applyJobSettings(st, job));
        await s.stop(job.name);
        await startAndSettle(job.name, signal);
        return `${job.name} restarted`;
      default:
        throw new JobError('JOB_UNSUPPORTED_ACTION', `unsupported action ${String(job.action)}`);
    }
  }

  return {
    async start() {
      mkdirSync(deps.stateDir, { recursive: true });
      sweepLeftovers();
      const s = supervisor();
      unfinished = readUpgradeMarkers(deps.stateDir, (name, error) =>
        log.error({ agent: name, error }, 'unreadable upgrade marker; left alone'),
      );
      // An upgrade cut short after the old version was stopped decides what runs (watch or roll back).
      const decidesItself = new Set(
        unfinished.filter((m) => m.step !== 'fetch' && m.step !== 'commit').map((m) => m.name),
      );
      for (const st of loadAllStates(deps.stateDir, (name, error) =>
        log.error({ agent: name, error }, 'corrupt sub-agent state; left alone'),
      )) {
        let spec: RunSpec;
        try {
          spec = specOf(st.name, st.current);
        } catch (err) {
          log.error({ agent: st.name, err: (err as Error).message }, 'sub-agent run spec unreadable; not supervised');
          continue;
        }
        await s.adopt(st, spec, { noRestart: decidesItself.has(st.name) });
      }
      s.startLoop();
    },
    resumeInterrupted(signal) {
      const found = unfinished;
      unfinished = [];
      return found.map((m) => {
        const run = async (): Promise<JobOutcome> => {
          try {
            return { errcode: ErrorCode.OK, message: await resumeUpgrade(m, signal) };
          } catch (err) {
            return outcomeOf(err, { id: m.jobId, action: 'upgrade', name: m.name });
          }
        };
        const p = jobChain.then(run, run);
        jobChain = p.catch(() => undefined);
        return { jobId: m.jobId, outcome: p };
      });
    },
    async stop() {
      await jobChain.catch(() => {});
      await sup?.stopLoop();
    },
    handleJob(job, signal, stop = signal) {
      const run = async (): Promise<JobOutcome> => {
        const v = subAgentJob.validate(job);
        if (!v.ok) return { errcode: ErrorCode.JOB_INVALID, message: `invalid job: ${v.errors.join('; ')}` };
        try {
          const message = await runJob(v.value, signal, stop);
          return { errcode: ErrorCode.OK, message };
        } catch (err) {
          return outcomeOf(err, v.value);
        }
      };
      // One job at a time: two jobs for one agent in a reply must not interleave their steps.
      const p = jobChain.then(run, run);
      jobChain = p.catch(() => undefined);
      return p;
    },
    reports(): AgentReport[] {
      return sup ? sup.reports() : [];
    },
  };
}
