/**
 * createSubAgentManager: the sub-agent side of the BootAgent. Jobs run one at a time; this
 * module only orders them and dispatches each to its step file in `steps/`: install
 * (`install.ts`), upgrade (`upgrade.ts`: fetch -> activate -> watch -> `commit.ts` or
 * `rollback.ts`, each step marked first by `mark.ts`, finished after a restart by
 * `resume.ts`), uninstall (`uninstall.ts`), start/stop/restart (`control.ts`). Process state
 * changes go through the Supervisor, the single writer.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, subAgentJob, type AgentReport, type SubAgentJob } from '@aspire/protocol';
import type { JobOutcome, SubAgentManager, SubAgentManagerDeps } from '../contracts.ts';
import { layout, loadAllStates } from './agent-state.ts';
import { checkJobSettings } from './job-checks.ts';
import { JobError } from './job-error.ts';
import { outcomeOf } from './job-outcome.ts';
import { sweepLeftovers } from './leftovers.ts';
import type { Limiter } from './limits/limiter.ts';
import { probeLimiter } from './limits/probe.ts';
import { createProcessRunner, type ProcessRunner } from './process-runner.ts';
import type { RunSpec } from './run-spec.ts';
import { restartAgent, startAgent, stopAgent } from './steps/control.ts';
import { install } from './steps/install.ts';
import { resumeUpgrade } from './steps/resume.ts';
import { specOf, type StepContext } from './steps/step-context.ts';
import { uninstall } from './steps/uninstall.ts';
import { upgrade } from './steps/upgrade.ts';
import { Supervisor } from './supervisor.ts';
import { readUpgradeMarkers, type UpgradeMarker } from './upgrade-marker.ts';

export interface ManagerExtras {
  /** Override process control (unit tests). */
  runner?: ProcessRunner;
  /** Override the probed limiter. */
  limiter?: Limiter;
}

/** One job to its step. */
function runJob(ctx: StepContext, job: SubAgentJob, signal: AbortSignal, stop: AbortSignal): Promise<string> {
  switch (job.action) {
    case 'install':
      return install(ctx, job, signal, stop);
    case 'upgrade':
      return upgrade(ctx, job, signal, false, stop);
    case 'uninstall':
      return uninstall(ctx, job);
    case 'start':
      return startAgent(ctx, job, signal);
    case 'stop':
      return stopAgent(ctx, job);
    case 'restart':
      return restartAgent(ctx, job, signal);
    default:
      throw new JobError('JOB_UNSUPPORTED_ACTION', `unsupported action ${String(job.action)}`);
  }
}

export function createSubAgentManager(deps: SubAgentManagerDeps & ManagerExtras): SubAgentManager {
  const log = deps.logger.child({ component: 'subagents' });
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

  const ctx: StepContext = { deps, log, rpm: deps.rpm ?? {}, tmpDir: join(deps.stateDir, '.tmp'), supervisor };

  /** One job at a time: two jobs for one agent in a reply must not interleave their steps. */
  function queued(run: () => Promise<JobOutcome>): Promise<JobOutcome> {
    const p = jobChain.then(run, run);
    jobChain = p.catch(() => undefined);
    return p;
  }

  /** Adopt (or start) every agent known from state; an unfinished upgrade decides its own agent. */
  async function adoptAll(s: Supervisor): Promise<void> {
    // An upgrade cut short after the old version was stopped decides what runs (watch or roll back).
    const decidesItself = new Set(
      unfinished.filter((m) => m.step !== 'fetch' && m.step !== 'commit').map((m) => m.name),
    );
    for (const st of loadAllStates(deps.stateDir, (name, error) =>
      log.error({ agent: name, error }, 'corrupt sub-agent state; left alone'),
    )) {
      let spec: RunSpec;
      try {
        spec = specOf(ctx, st.name, st.current);
      } catch (err) {
        log.error({ agent: st.name, err: (err as Error).message }, 'sub-agent run spec unreadable; not supervised');
        continue;
      }
      await s.adopt(st, spec, { noRestart: decidesItself.has(st.name) });
    }
  }

  return {
    async start() {
      mkdirSync(deps.stateDir, { recursive: true });
      sweepLeftovers(deps.stateDir, ctx.tmpDir, log);
      const s = supervisor();
      unfinished = readUpgradeMarkers(deps.stateDir, (name, error) =>
        log.error({ agent: name, error }, 'unreadable upgrade marker; left alone'),
      );
      await adoptAll(s);
      s.startLoop();
    },
    resumeInterrupted(signal) {
      const found = unfinished;
      unfinished = [];
      return found.map((m) => ({
        jobId: m.jobId,
        outcome: queued(async () => {
          try {
            return { errcode: ErrorCode.OK, message: await resumeUpgrade(ctx, m, signal) };
          } catch (err) {
            return outcomeOf(log, err, { id: m.jobId, action: 'upgrade', name: m.name });
          }
        }),
      }));
    },
    async stop() {
      await jobChain.catch(() => {});
      await sup?.stopLoop();
    },
    handleJob(job, signal, stop = signal) {
      return queued(async () => {
        // The BootAgent's runner hands over jobs checked at its edge (jobs/job-validation.ts); the
        // manager still checks its own input because a job's name becomes a directory and not
        // every caller is the runner (tests, the policy's local jobs).
        const v = subAgentJob.validate(job);
        if (!v.ok) return { errcode: ErrorCode.JOB_INVALID, message: `invalid job: ${v.errors.join('; ')}` };
        try {
          supervisor();
          const message = await runJob(ctx, checkJobSettings(v.value, log), signal, stop);
          return { errcode: ErrorCode.OK, message };
        } catch (err) {
          return outcomeOf(log, err, v.value);
        }
      });
    },
    reports(): AgentReport[] {
      return sup ? sup.reports() : [];
    },
  };
}
