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
import { JobError } from './job-error.ts';
import type { Limiter } from './limits/limiter.ts';
import { probeLimiter } from './limits/probe.ts';
import { readSpecFile, stagePackage, type Staged } from './package-stage.ts';
import { createProcessRunner, type ProcessRunner } from './process-runner.ts';
import { execFileText, rpmErase, rpmInstall, rpmQuery, type RpmOptions } from './rpm.ts';
import { parseLimits, RUN_SPEC_FILE, splitCommand, type RunSpec } from './run-spec.ts';
import { Supervisor } from './supervisor.ts';

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

  function supervisor(): Supervisor {
    if (!sup) {
      const limiter =
        deps.limiter ??
        probeLimiter({ cgroupRoot: deps.config.cgroupRoot, parent: deps.cgroupParent ?? 'aspire', clock: deps.clock, watchdogIntervalMs: deps.config.watchdogIntervalSec * 1000, logger: log });
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
      for (const v of ls(l.versionsDir)) if (v.startsWith('.staging-')) rmSync(join(l.versionsDir, v), { recursive: true, force: true });
    }
  }

  // ---- steps ----------------------------------------------------------------------------

  async function fetchAndStage(job: SubAgentJob, signal: AbortSignal, protect: string[]): Promise<Staged> {
    if (!job.url) throw new JobError('JOB_INVALID', `${job.action}: url is required`);
    const dl = await download(job.url, job.checksum, { tmpDir, maxBytes: deps.config.downloadMaxBytes, signal, ...(deps.caFile ? { caFile: deps.caFile } : {}) });
    try {
      log.info({ agent: job.name, url: redact(job.url), bytes: dl.size }, 'package downloaded and verified');
      return await stagePackage({ file: dl.path, name: job.name, jobVersion: job.version, versionsDir: layout(deps.stateDir, job.name).versionsDir, rpm, protect });
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
    if (spec.version !== staged.version) log.warn({ spec: spec.version, rpm: staged.version }, 'agent.json version differs from the rpm version; the rpm version is reported');
    return spec;
  }

  /** command://CMD (seed 000): run CMD as argv, no shell; the rpm it installs must carry agent.json. */
  async function runCommandSource(job: SubAgentJob, signal: AbortSignal): Promise<{ version: string; spec: RunSpec }> {
    const argv = splitCommand(job.url!.slice('command://'.length));
    if (argv.length === 0) throw new JobError('JOB_INVALID', 'command:// has no command');
    const r = await execFileText(argv[0]!, argv.slice(1), { timeoutMs: 1_800_000, signal });
    if (r.code !== 0) throw new JobError('JOB_INSTALL_FAILED', `${argv.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(-1000)}`);
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
    if (r?.status !== 'running') throw new JobError('JOB_START_FAILED', `${name} did not stay up for its start_delay of ${delay} s (status ${r?.status ?? 'unknown'})`);
  }

  function applyJobSettings(s: AgentState, job: SubAgentJob): void {
    if (job.envs) s.envs = { ...job.envs };
    if (job.limits) s.limits = { ...job.limits };
  }

  function checkLimits(job: SubAgentJob): void {
    const problems: string[] = [];
    if (job.limits) parseLimits(job.limits, problems);
    if (problems.length) throw new JobError('JOB_INVALID', problems.join('; '));
  }

  async function install(job: SubAgentJob, signal: AbortSignal): Promise<string> {
    const s = supervisor();
    if (s.has(job.name)) return upgrade(job, signal, true);
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

  async function upgrade(job: SubAgentJob, signal: AbortSignal, viaInstall = false): Promise<string> {
    const s = supervisor();
    const old = s.get(job.name);
    if (!old) throw new JobError('JOB_NOT_INSTALLED', `${job.name} is not installed`);
    if (!job.url) throw new JobError('JOB_INVALID', `${job.action}: url is required`);
    const snapshot: AgentState = structuredClone(old as AgentState);
    const oldSpec = s.spec(job.name)!;
    if (job.version && job.version === snapshot.current) {
      await s.update(job.name, (st) => applyJobSettings(st, job));
      await s.start(job.name);
      return `${job.name} ${snapshot.current} already installed${viaInstall ? '' : '; nothing to upgrade'}`;
    }
    let staged: Staged | undefined;
    let version: string;
    let newSpec: RunSpec;
    const protect = [snapshot.current, ...(snapshot.previous ? [snapshot.previous] : [])];
    if (job.url.startsWith('command://')) {
      await s.stop(job.name);
      ({ version, spec: newSpec } = await runCommandSource(job, signal));
    } else {
      staged = await fetchAndStage(job, signal, protect);
      version = staged.version;
      if (version === snapshot.current) {
        await s.update(job.name, (st) => applyJobSettings(st, job));
        await s.start(job.name);
        return `${job.name} ${version} already installed`;
      }
      await s.stop(job.name);
      try {
        newSpec = await activate(staged, signal);
      } catch (err) {
        staged.discard();
        await s.start(job.name);
        throw err;
      }
    }
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
    const watched = await s.startWatched(job.name, deps.config.upgradeHealthySec * 1000, signal);
    if (watched.interrupted) {
      throw new JobError('JOB_INTERRUPTED', `${job.name} upgrade ${snapshot.current} -> ${version}: BootAgent stopping before the health window ended; ${version} left running`);
    }
    if (watched.ok) {
      pruneVersions(job.name, [version, snapshot.current]);
      deps.events.emit('upgraded', `${job.name} upgraded ${snapshot.current} -> ${version}`, { agent: job.name, data: { from: snapshot.current, to: version } });
      return `${job.name} upgraded ${snapshot.current} -> ${version}`;
    }
    // Roll back: previous version's files and state back in place, started again.
    log.warn({ agent: job.name, from: snapshot.current, to: version, reason: watched.reason }, 'upgrade failed its health window: rolling back');
    await s.stop(job.name);
    let restoreNote = '';
    if (snapshot.kind === 'rpm') {
      const oldRpm = join(layout(deps.stateDir, job.name).versionDir(snapshot.current), 'package.rpm');
      try {
        await rpmInstall(rpm, oldRpm, { oldpackage: true });
      } catch (err) {
        restoreNote = `; restoring the old rpm failed: ${(err as Error).message}`;
      }
    }
    await s.update(job.name, (st) => Object.assign(st, { ...snapshot, pid: undefined, startTicks: undefined }), oldSpec);
    staged?.discard();
    let running = 'and running';
    try {
      await s.start(job.name);
    } catch (err) {
      running = `but it did not start: ${(err as Error).message}`;
    }
    deps.events.emit('rollback', `${job.name} upgrade to ${version} rolled back to ${snapshot.current}: ${watched.reason}`, {
      agent: job.name,
      data: { from: snapshot.current, to: version, reason: watched.reason },
    });
    throw new JobError('JOB_ROLLED_BACK', `${job.name} ${version} ${watched.reason}; rolled back to ${snapshot.current} ${running}${restoreNote}`);
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
    deps.events.emit('uninstalled', `${job.name} ${current} uninstalled`, { agent: job.name, data: { version: current } });
    return `${job.name} uninstalled`;
  }

  async function runJob(job: SubAgentJob, signal: AbortSignal): Promise<string> {
    checkLimits(job);
    const s = supervisor();
    switch (job.action) {
      case 'install':
        return install(job, signal);
      case 'upgrade':
        return upgrade(job, signal);
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
      for (const st of loadAllStates(deps.stateDir, (name, error) => log.error({ agent: name, error }, 'corrupt sub-agent state; left alone'))) {
        let spec: RunSpec;
        try {
          spec = specOf(st.name, st.current);
        } catch (err) {
          log.error({ agent: st.name, err: (err as Error).message }, 'sub-agent run spec unreadable; not supervised');
          continue;
        }
        await s.adopt(st, spec);
      }
      s.startLoop();
    },
    async stop() {
      await jobChain.catch(() => {});
      await sup?.stopLoop();
    },
    handleJob(job, signal) {
      const run = async (): Promise<JobOutcome> => {
        const v = subAgentJob.validate(job);
        if (!v.ok) return { errcode: ErrorCode.JOB_INVALID, message: `invalid job: ${v.errors.join('; ')}` };
        try {
          const message = await runJob(v.value, signal);
          return { errcode: ErrorCode.OK, message };
        } catch (err) {
          if (err instanceof JobError) {
            log.warn({ job: job.id, action: job.action, agent: job.name, errcode: err.errcode, err: err.message }, 'sub-agent job failed');
            return { errcode: err.errcode, message: err.message };
          }
          log.error({ job: job.id, err }, 'sub-agent job failed unexpectedly');
          const e = err as NodeJS.ErrnoException;
          if (isDiskFull(e)) return { errcode: ErrorCode.JOB_DISK_FULL, message: e.message };
          return { errcode: ErrorCode.JOB_INSTALL_FAILED, message: `${job.action} ${job.name}: ${e?.message ?? String(err)}` };
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
