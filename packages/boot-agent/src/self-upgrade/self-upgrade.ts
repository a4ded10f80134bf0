/**
 * The BootAgent upgrading itself (docs/lifecycle.md "BootAgent self-upgrade"). The old version
 * fetches, verifies and stages the new one (upgrade-job.ts), then execs the staged copy in place
 * (same pid: systemd sees no exit). The executable systemd starts is not touched until the new
 * version has re-adopted the sub-agents and had a status push answered within
 * `selfUpgrade.healthySec`: any death before that (crash at start, kill -9) restarts the old
 * version, which finds the marker and reports the rollback. Passed: the new version is put in
 * place (binary swap keeping FILE.previous, or rpm -U) and exec'd from there.
 *
 * At every start `settle()` reads the marker before anything else runs and either finishes the
 * step (a result for the journal), asks for an exec (the wrong version is running for the
 * step), or says this process is the new version on trial.
 */
import { existsSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { VERSION, type Clock, type TimerHandle } from '@aspire/agent-core';
import { BOOT_AGENT_NAME, ErrorCode, ErrorMessage, type SubAgentJob } from '@aspire/protocol';
import type { Logger } from 'pino';
import type { JobOutcome } from '../contracts.ts';
import type { JobJournal } from '../state/job-journal.ts';
import { readMarker, removeMarker, selfUpgradeDir, writeMarker, type SelfUpgradeMarker } from './marker.ts';
import { rpmUpgrade, swapBinary } from './put-in-place.ts';
import { currentImage, execCommand, type SelfImage } from './self-image.ts';
import { runSelfUpgradeJob } from './upgrade-job.ts';
import type { RpmOptions } from '../subagents/rpm.ts';
import { waitForOrphanRpm } from './orphan-rpm.ts';

/** More execs than this for one job means something lies about its version: stop and report. */
const MAX_HOPS = 4;
/** The longest the exec after a commit waits for running jobs; then they are cut short (reported interrupted). */
export const COMMIT_DRAIN_MAX_MS = 10 * 60_000;

export interface SelfUpgradeDeps {
  stateDir: string;
  logger: Logger;
  clock: Clock;
  /** boot.json `selfUpgrade.healthySec`. */
  healthySec: number;
  downloadMaxBytes: number;
  caFile?: string;
  /** The command-line arguments to exec the next version with (this process's own). */
  args: readonly string[];
  /** Default: what this process runs from. */
  image?: SelfImage;
  /** Default: the compiled-in VERSION. */
  version?: string;
  /** rpm --root/--dbpath for the BootAgent's own package (env BOOT_RPM_ROOT, BOOT_RPM_DBPATH; tests). */
  rpm?: RpmOptions;
}

/** What main.ts execs (process.execve: the pid, and so systemd's main pid, stays). */
export interface ExecRequest {
  cmd: string;
  argv: string[];
  why: string;
}

export interface SelfUpgradeHooks {
  journal: JobJournal;
  /** Stop the agent cleanly (journal flushed, sub-agents left running), then exec. */
  requestExec: (req: ExecRequest) => void;
  /**
   * Resolves once no job runs or waits: after a commit the exec waits for the jobs the healthy
   * new version took meanwhile (their results are journaled, not cut short).
   */
  jobsIdle?: () => Promise<void>;
}

export class SelfUpgrade {
  readonly image: SelfImage;
  readonly version: string;
  private readonly log: Logger;
  private hooks: SelfUpgradeHooks | undefined;
  private result: { marker: SelfUpgradeMarker; outcome: JobOutcome } | undefined;
  private trial: SelfUpgradeMarker | undefined;
  private readonly early: { message: string; data: Record<string, unknown> }[] = [];
  private timer: TimerHandle | undefined;
  private adoptedDone = false;
  private ended = false;

  constructor(readonly d: SelfUpgradeDeps) {
    this.image = d.image ?? currentImage();
    this.version = d.version ?? VERSION;
    this.log = d.logger.child({ component: 'self-upgrade' });
  }

  get dir(): string {
    return selfUpgradeDir(this.d.stateDir);
  }

  /** Run at start, before the journal opens. Returns an exec to do at once, or undefined to go on. */
  async settle(): Promise<ExecRequest | undefined> {
    const read = readMarker(this.d.stateDir);
    if (read.kind === 'none') return undefined;
    if (read.kind === 'bad') {
      this.log.error({ error: read.error }, 'self-upgrade marker unreadable: discarded, the staged files removed');
      this.cleanup();
      removeMarker(this.d.stateDir);
      return undefined;
    }
    const m = read.marker;
    const onTarget = samePath(this.image.file, m.target);
    const me = this.version;
    this.log.info({ jobId: m.jobId, step: m.step, from: m.from, to: m.to, running: me }, 'self-upgrade marker found');
    if ((m.hops ?? 0) >= MAX_HOPS && onTarget) {
      this.finishWith(m, `gave up after ${m.hops} restarts: ${me} runs from ${m.target}`);
      return undefined;
    }
    switch (m.step) {
      case 'fetch':
        // Nothing changed yet: the journal reports the job interrupted.
        this.note(m, 'interrupted', `self-upgrade to ${m.to ?? '?'} cut short while fetching; nothing changed`);
        this.cleanup();
        removeMarker(this.d.stateDir);
        return undefined;
      case 'trial':
        if (m.staged !== undefined && samePath(this.image.file, m.staged) && me === m.to) {
          this.trial = m;
          return undefined;
        }
        return this.rollbackOrFinish(
          m,
          onTarget,
          `BootAgent ${m.to} ended before its health window passed (crashed, exited or was killed)`,
        );
      case 'rollback':
        return this.rollbackOrFinish(m, onTarget, m.reason ?? 'rolled back');
      case 'commit':
        try {
          await this.putInPlace(m);
        } catch (err) {
          return this.rollbackOrFinish(m, onTarget, `could not be put in place: ${(err as Error).message}`);
        }
        if (onTarget && me === m.to) {
          this.result = { marker: m, outcome: { errcode: ErrorCode.OK, message: upgradedMessage(m) } };
          return undefined;
        }
        return this.execTarget(m, 'commit', 'the new version is in place: running it from there');
    }
  }

  /** Job ids the journal must keep `started` (this start finishes them). */
  resumableJobIds(): Set<string> {
    const id = this.result?.marker.jobId ?? this.trial?.jobId;
    return new Set(id ? [id] : []);
  }

  /** The agent's journal is open: settle's result is journaled, a trial's window starts. */
  async attach(h: SelfUpgradeHooks): Promise<void> {
    this.hooks = h;
    for (const e of this.early) this.emit('self_upgrade', e.message, e.data);
    this.early.length = 0;
    const r = this.result;
    if (r) {
      const seen = h.journal.lookup(r.marker.jobId);
      // Journaled already by a start that died before removing the marker: not twice.
      if (seen.kind === 'pending' && seen.entry.state === 'started') await h.journal.finish(r.marker.jobId, r.outcome);
      this.emit(r.outcome.errcode === ErrorCode.OK ? 'upgraded' : 'rollback', r.outcome.message, {
        jobId: r.marker.jobId,
        from: r.marker.from,
        to: r.marker.to,
        errcode: r.outcome.errcode,
      });
      this.log.info(
        { jobId: r.marker.jobId, errcode: r.outcome.errcode },
        `self-upgrade finished: ${r.outcome.message}`,
      );
      this.cleanup();
      removeMarker(this.d.stateDir);
      this.result = undefined;
    }
    const t = this.trial;
    if (t) {
      const left = Math.max(0, (t.deadline ?? 0) - this.d.clock.now());
      this.log.info({ jobId: t.jobId, leftMs: left }, `on trial as BootAgent ${this.version}: health window running`);
      this.timer = this.d.clock.setTimeout(() => this.windowEnded(), left);
    }
  }

  /** The sub-agents were re-adopted (manager.start() resolved). */
  adopted(): void {
    this.adoptedDone = true;
  }

  /** A status push was answered: on trial with the sub-agents adopted, the new version passed. */
  pushAnswered(): void {
    const t = this.trial;
    if (!t || this.ended || !this.adoptedDone) return;
    if (this.d.clock.now() > (t.deadline ?? 0)) return this.windowEnded();
    this.ended = true;
    this.timer?.cancel();
    const m: SelfUpgradeMarker = { ...t, step: 'commit', at: this.d.clock.now() };
    try {
      writeMarker(this.d.stateDir, m);
    } catch (err) {
      return this.rollback(t, `healthy, but the commit marker could not be written: ${(err as Error).message}`);
    }
    this.note(
      m,
      'healthy',
      `BootAgent ${t.to} re-adopted its sub-agents and had a status push answered: putting it in place`,
    );
    this.putInPlace(m).then(
      async () => {
        await this.drainJobs();
        this.execTarget(m, 'commit', 'the new version is in place: running it from there', true);
      },
      (err: unknown) => this.rollback(t, `healthy, but it could not be put in place: ${(err as Error).message}`),
    );
  }

  /** Jobs accepted in the window finish before the exec (bounded by COMMIT_DRAIN_MAX_MS). */
  private async drainJobs(): Promise<void> {
    const idle = this.hooks?.jobsIdle;
    if (!idle) return;
    let timer: TimerHandle | undefined;
    await Promise.race([
      idle(),
      new Promise<void>((resolve) => {
        timer = this.d.clock.setTimeout(resolve, COMMIT_DRAIN_MAX_MS);
      }),
    ]);
    timer?.cancel();
  }

  /** The agent stops: the window timer goes (a SIGTERM on trial ends it; the old version rolls back). */
  detach(): void {
    this.timer?.cancel();
  }

  handleJob(job: SubAgentJob, signal: AbortSignal, stop: AbortSignal): Promise<JobOutcome> {
    return runSelfUpgradeJob(this, job, signal, stop);
  }

  /** Events of the steps (`self_upgrade`, data jobId/step/from/to), journaled once attached. */
  note(m: SelfUpgradeMarker, step: string, message: string): void {
    const data = { jobId: m.jobId, step, from: m.from, to: m.to };
    this.log.info(data, message);
    if (this.hooks) this.emit('self_upgrade', message, data);
    else this.early.push({ message, data });
  }

  emit(
    kind: 'self_upgrade' | 'upgraded' | 'rollback' | 'refused',
    message: string,
    data: Record<string, unknown>,
  ): void {
    this.hooks?.journal.emit(kind, message, { agent: BOOT_AGENT_NAME, data });
  }

  exec(req: ExecRequest): void {
    if (!this.hooks) throw new Error('self-upgrade: exec asked before the agent was attached');
    this.hooks.requestExec(req);
  }

  /** Remove the staged files (download temp, the new version's copy). */
  cleanup(): void {
    rmSync(join(this.dir, 'new'), { recursive: true, force: true });
    rmSync(join(this.dir, '.tmp'), { recursive: true, force: true });
  }

  private windowEnded(): void {
    const t = this.trial;
    if (!t || this.ended) return;
    this.ended = true;
    const why = this.adoptedDone
      ? `no status push was answered within ${this.d.healthySec} s`
      : `the sub-agents were not re-adopted within ${this.d.healthySec} s`;
    this.rollback(t, `BootAgent ${t.to} did not prove healthy: ${why}`);
  }

  /** On trial and failed: the marker says rollback, then the old version is exec'd from its file. */
  private rollback(t: SelfUpgradeMarker, reason: string): void {
    const m: SelfUpgradeMarker = { ...t, step: 'rollback', reason, at: this.d.clock.now() };
    try {
      writeMarker(this.d.stateDir, m);
    } catch (err) {
      // The trial marker stays: the old version, started again, rolls back all the same.
      this.log.error({ err }, 'cannot write the rollback marker');
    }
    this.note(m, 'rollback', `${reason}; going back to ${t.from}`);
    this.execTarget(m, 'rollback', reason, true);
  }

  /** settle: the old version runs (finish the rollback), or not yet (exec it). */
  private rollbackOrFinish(m: SelfUpgradeMarker, onTarget: boolean, reason: string): ExecRequest | undefined {
    if (onTarget) {
      this.finishWith(m, reason);
      return undefined;
    }
    return this.execTarget({ ...m, step: 'rollback', reason, at: this.d.clock.now() }, 'rollback', reason);
  }

  /** The result for what runs now, whatever the marker hoped for. */
  private finishWith(m: SelfUpgradeMarker, reason: string): void {
    const outcome: JobOutcome =
      this.version === m.to && m.to !== m.from
        ? { errcode: ErrorCode.OK, message: `${upgradedMessage(m)} (${reason})` }
        : {
            errcode: ErrorCode.JOB_ROLLED_BACK,
            message: `${ErrorMessage.JOB_ROLLED_BACK}: ${reason}; BootAgent ${this.version} runs (${m.target})`,
          };
    this.result = { marker: m, outcome };
  }

  private execTarget(m: SelfUpgradeMarker, step: string, why: string, now = false): ExecRequest | undefined {
    const hops = (m.hops ?? 0) + 1;
    try {
      writeMarker(this.d.stateDir, { ...m, hops });
    } catch (err) {
      this.log.error({ err }, 'cannot count the exec in the self-upgrade marker');
    }
    const req: ExecRequest = { ...execCommand(m.target, this.image.launcher, this.d.args), why: `${step}: ${why}` };
    if (!now) return req;
    this.exec(req);
    return undefined;
  }

  private async putInPlace(m: SelfUpgradeMarker): Promise<void> {
    if (m.kind === 'rpm') {
      const pkg = join(this.dir, 'new', 'package.rpm');
      if (!m.to || !existsSync(pkg)) return;
      // An rpm -U of this package left running by a killed boot finishes before we look.
      const still = await waitForOrphanRpm(pkg, this.d.clock, 600_000);
      if (still.length > 0) this.log.warn({ pids: still }, 'an earlier rpm -U of the new BootAgent still runs');
      await rpmUpgrade(this.d.rpm ?? {}, pkg, m.to);
      return;
    }
    if (m.staged) swapBinary(m.target, m.staged);
  }
}

function upgradedMessage(m: SelfUpgradeMarker): string {
  return `BootAgent upgraded from ${m.from} to ${m.to}: healthy within its window, in place at ${m.target}`;
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return a === b;
  }
}
