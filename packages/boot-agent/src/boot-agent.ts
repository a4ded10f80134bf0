/**
 * createBootAgent: the BootAgent's control loop, apart from main.ts (which only parses flags,
 * loads config, makes the logger and wires signals). Lifecycle: run(signal) resolves after a
 * clean stop once the signal aborts. States (docs/boot-agent.md):
 *   loading -> registering (first start, or agentsn not yet trusted) -> running -> stopping -> stopped
 */
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { BUILD_SERVER_ADDR, VERSION, type Clock, type HostPolicy } from '@aspire/agent-core';
import { MAX_STATUS_BODY_BYTES, verifySigned } from '@aspire/protocol';
import type { Logger } from 'pino';
import type { BootConfig } from './config/boot-config.ts';
import type { SubAgentManager, SubAgentManagerDeps } from './contracts.ts';
import { HostIdentity } from './identity/host-identity.ts';
import { applyConfigJob } from './jobs/config-job.ts';
import { JobRunner } from './jobs/job-runner.ts';
import { finishResumedJobs } from './jobs/resumed-jobs.ts';
import { Enrollment } from './loop/enrollment.ts';
import { PushLoop, type PushRun } from './loop/push-loop.ts';
import { createStatusRound } from './loop/status-round.ts';
import { createHttpTransport, type Transport } from './net/http-transport.ts';
import { serverGroups, serverUrls } from './net/server-list.ts';
import { createPolicySync, type PolicySync } from './policy/policy-sync-factory.ts';
import type { ExecRequest, SelfUpgrade } from './self-upgrade/self-upgrade.ts';
import { JobJournal } from './state/job-journal.ts';
import { keyAnnouncements, type KeyAnnouncements } from './state/key-announcements.ts';
import type { MetaStore } from './state/meta-store.ts';
import { ServerKeyPin, readConfiguredKey } from './state/server-key-pin.ts';
import { pendingUpgradeJobIds } from './subagents/upgrade-marker.ts';

/** The `agent` of the BootAgent's own events (sub-agents use their names). */
export const BOOT_AGENT_NAME = 'BootAgent';

/**
 * Events that make the next push come early (at most one per second, never while backing off).
 * The policy's reports too: an operator watching a host converge (in_sync) should not wait a step.
 */
export const URGENT_EVENT_KINDS = ['fatal', 'killed', 'rollback', 'policy_applied', 'policy_drift'] as const;

export type BootAgentState = 'idle' | 'loading' | 'registering' | 'running' | 'stopping' | 'stopped';

export interface BootAgentDeps {
  config: Readonly<BootConfig>;
  stateDir: string;
  clock: Clock;
  logger: Logger;
  /** -S as given (used on first start only). */
  serverFlag?: string;
  /** Compiled-in server list; default BUILD_SERVER_ADDR. */
  buildServers?: string;
  /**
   * Re-reads `servers` of boot.json (undefined when the file does not check now). Asked while
   * the agent waits for a first server, so an edit of boot.json is picked up without a restart.
   */
  reloadConfiguredServers?: () => readonly string[] | undefined;
  /** Default: HTTP(S) with the configured CA and the protocol's reply cap. */
  transport?: Transport;
  /** The supervision side; without it sub-agent jobs are answered JOB_UNSUPPORTED_ACTION. */
  createManager?: (deps: SubAgentManagerDeps) => SubAgentManager;
  /** Called on every state change (logs, tests). */
  onState?: (state: BootAgentState) => void;
  /** The host policy, loaded at the edge (main.ts); absent: every job allowed. */
  policy?: Readonly<HostPolicy>;
  /**
   * The BootAgent's own upgrade (settled by main.ts before run) and how to exec the next
   * version once run() has stopped; without them `upgrade BootAgent` jobs are refused.
   */
  selfUpgrade?: SelfUpgrade;
  requestExec?: (req: ExecRequest) => void;
}

export interface BootAgent {
  readonly state: BootAgentState;
  /** Runs until the signal aborts, then stops cleanly (journal flushed, sub-agents left running). */
  run(signal: AbortSignal): Promise<void>;
}

/** What run() has opened before the loop is wired: the parts every step after it uses. */
interface Opened {
  transport: Transport;
  journal: JobJournal;
  pin: ServerKeyPin;
  onSigningKeys: KeyAnnouncements;
  enrollment: Enrollment;
  manager: SubAgentManager | undefined;
  self: SelfUpgrade | undefined;
  loop: PushLoop;
  startMono: number;
}

/** What the BootAgent's steps share: its deps and the few values made once per agent. */
interface AgentScope {
  deps: BootAgentDeps;
  config: Readonly<BootConfig>;
  clock: Clock;
  stateDir: string;
  log: Logger;
  setState: (s: BootAgentState) => void;
  hostname: string;
  buildServers: string;
  identity: HostIdentity;
}

/** The job journal, with the jobs this start finishes itself (sub-agent upgrades, its own upgrade). */
async function openJournal(a: AgentScope, agentsDir: string): Promise<{ journal: JobJournal; resumable: Set<string> }> {
  const { deps, config, clock, stateDir, log } = a;
  // Upgrades cut short (marker on disk) are finished by the manager, not reported interrupted.
  const resumable = deps.createManager ? pendingUpgradeJobIds(agentsDir) : new Set<string>();
  // The BootAgent's own upgrade this start finishes (its trial, or the result settle found).
  const selfResumable = deps.selfUpgrade?.resumableJobIds() ?? new Set<string>();
  const { journal, corrupt, writeError } = await JobJournal.open({
    stateDir,
    clock,
    eventQueueMax: config.eventQueueMax,
    resumable: new Set([...resumable, ...selfResumable]),
  });
  if (corrupt) log.error({ error: corrupt }, 'job journal was unreadable and has been started afresh');
  if (writeError) log.error({ error: writeError }, 'cannot write the job journal; going on from memory');
  for (const id of journal.interrupted)
    log.warn({ jobId: id }, 'job was running when the agent last stopped: reported JOB_INTERRUPTED, not run again');
  // The BootAgent's own restarts are events too: a crash loop shows up on the server.
  journal.emit('started', `BootAgent ${VERSION} started (pid ${process.pid})`, {
    agent: BOOT_AGENT_NAME,
    data: { interruptedJobs: journal.interrupted.length },
  });
  return { journal, resumable };
}

/** The pinned server key, its announcements' handler, and the enrollment that reports to it. */
function openTrust(
  a: AgentScope,
  transport: Transport,
  journal: JobJournal,
): { pin: ServerKeyPin; onSigningKeys: KeyAnnouncements; enrollment: Enrollment } {
  const { deps, config, clock, stateDir, log, setState, hostname, buildServers, identity } = a;
  // The server's signing key: jobs that do not verify against it are refused (docs/security.md).
  const pin = ServerKeyPin.open(
    stateDir,
    config.serverPublicKey ? readConfiguredKey(config.serverPublicKey) : undefined,
  );
  const onSigningKeys = keyAnnouncements(pin, log, journal);
  const enrollment = new Enrollment({
    config,
    stateDir,
    clock,
    log,
    identity,
    hostname,
    buildServers,
    ...(deps.serverFlag !== undefined ? { serverFlag: deps.serverFlag } : {}),
    ...(deps.reloadConfiguredServers ? { reloadConfiguredServers: deps.reloadConfiguredServers } : {}),
    setState,
    onSigningKeys,
    transport,
  });
  return { pin, onSigningKeys, enrollment };
}

/**
 * The job runner, the desired-state policy and the status round, around the push loop made
 * first: the runner asks the loop (PushRequests) for early pushes and step changes; the round
 * feeds the runner; the loop runs the round once started with the returned PushRun.
 */
function wireJobs(a: AgentScope, o: Opened, meta: MetaStore): { jobs: JobRunner; desired: PolicySync; push: PushRun } {
  const { deps, config, clock, stateDir, log, setState, hostname, buildServers, identity } = a;
  const { transport, journal, pin, manager, self, loop } = o;
  const sources = () => ({
    build: buildServers,
    servers: meta.meta.servers,
    configured: o.enrollment.configuredServers(),
    pushed: meta.meta.pushedServers,
  });
  const servers = () => serverUrls(sources());
  const stepSec = () => meta.meta.step;
  const signed = { keys: () => pin.keys(), agentsn: () => meta.meta.agentsn };
  const jobs = new JobRunner({
    logger: log,
    journal,
    ...(manager ? { manager } : {}),
    config: (job) => applyConfigJob(job, meta, () => loop.stepChanged()),
    // Results go out with an early push instead of waiting up to a whole step.
    loop,
    verify: (job) => verifySigned('job', job, { keys: signed.keys(), agentsn: signed.agentsn(), nowMs: clock.now() }),
    verifyRevoke: (notice) =>
      verifySigned('revoke', notice, { keys: signed.keys(), agentsn: signed.agentsn(), nowMs: clock.now() }),
    ...(deps.policy ? { policy: deps.policy } : {}),
    ...(self ? { selfUpgrade: self } : {}),
  });
  // The server's desired-state policy: pulled when its hash changes (or daily), converged
  // through the same job queue and journal (docs/lifecycle.md "Desired state — on the host").
  const desired = createPolicySync({
    config: config.desiredState,
    clock,
    logger: log,
    stateDir,
    transport,
    journal,
    manager,
    runner: jobs,
    agentsn: signed.agentsn,
    credential: () => meta.meta.credential,
    keys: signed.keys,
  });
  const round = createStatusRound({
    clock,
    logger: log,
    transport,
    meta,
    journal,
    jobs,
    ...(manager ? { manager } : {}),
    hostname,
    startMono: o.startMono,
    servers,
    serverGroups: () => serverGroups(sources()),
    stepSec,
    reRegister: (s) => o.enrollment.register(s, servers, meta.meta.agentsn, meta.meta.credential),
    identity,
    onState: setState,
    onSigningKeys: o.onSigningKeys,
    onReply: (server, reply) => desired.afterReply(server, reply),
  });
  // A sub-agent given up on, killed for its limits or rolled back should not wait a whole step.
  journal.onEmit = (ev) => {
    if ((URGENT_EVENT_KINDS as readonly string[]).includes(ev.kind)) loop.pushSoon();
  };
  const push: PushRun = {
    stepSec,
    // An answered push is the second half of a new version's health gate.
    round: async (s) => {
      const r = await round(s);
      if (r.kind === 'ok') self?.pushAnswered();
      return r;
    },
  };
  return { jobs, desired, push };
}

/** run(): open, supervise, enroll, wire the jobs and the push loop, wait for the signal, stop in order. */
async function runAgent(a: AgentScope, signal: AbortSignal): Promise<void> {
  const { deps, config, clock, stateDir, log, setState } = a;
  setState('loading');
  const startMono = clock.monotonic();
  const transport =
    deps.transport ??
    createHttpTransport({
      clock,
      timeoutMs: config.httpTimeoutSec * 1000,
      maxBodyBytes: MAX_STATUS_BODY_BYTES,
      ...(config.ca ? { caFile: config.ca } : {}),
    });
  const agentsDir = join(stateDir, 'agents');
  const { journal, resumable } = await openJournal(a, agentsDir);
  // Made first and started last (with its round): what the job runner may ask of it is PushRequests.
  const loop = new PushLoop({ clock, logger: log });
  let runner: JobRunner | undefined;
  let desired: PolicySync | undefined;
  const self = deps.selfUpgrade && deps.requestExec ? deps.selfUpgrade : undefined;
  if (self && deps.requestExec)
    await self
      .attach({
        journal,
        requestExec: deps.requestExec,
        jobsIdle: async () => {
          while (runner && !runner.idle) await clock.sleep(250);
        },
      })
      .catch((err: unknown) => log.error({ err }, 'cannot journal the self-upgrade result'));

  const { pin, onSigningKeys, enrollment } = openTrust(a, transport, journal);

  // Sub-agents are supervised from the start, even while the server cannot be reached.
  const manager = deps.createManager?.({
    clock,
    logger: deps.logger,
    events: journal,
    stateDir: agentsDir,
    config: config.supervision,
  });
  let resumedResults: Promise<void>[] = [];
  try {
    if (manager) await manager.start();
    // Re-adopted (never stopped): the first half of a new version's health gate.
    self?.adopted();
    const resumed = finishResumedJobs({ manager, journal, log, loop, signal });
    resumedResults = resumed.results;
    await journal
      .interrupt([...resumable].filter((id) => !resumed.taken.has(id)))
      .catch((err: unknown) => log.error({ err }, 'cannot write the job journal'));
    const meta = await enrollment.loadOrRegister(signal);
    if (!meta) return;
    const wired = wireJobs(
      a,
      { transport, journal, pin, onSigningKeys, enrollment, manager, self, loop, startMono },
      meta,
    );
    runner = wired.jobs;
    desired = wired.desired;
    setState('running');
    loop.start(wired.push);
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await meta.flush();
  } catch (err) {
    if (!signal.aborted) throw err;
  } finally {
    setState('stopping');
    self?.detach();
    await loop.stop();
    await runner?.stop();
    await desired?.stop();
    // Sub-agents keep running: a BootAgent restart or upgrade must not take them down.
    await manager?.stop().catch((err: unknown) => log.error({ err }, 'sub-agent manager did not stop cleanly'));
    await Promise.all(resumedResults);
    if (signal.aborted)
      journal.emit(
        'stopped',
        `BootAgent ${VERSION} stopped (${String((signal.reason as Error | undefined)?.message ?? 'asked to stop')})`,
        { agent: BOOT_AGENT_NAME },
      );
    await journal.flush();
    await transport.close().catch(() => undefined);
    setState('stopped');
  }
}

export function createBootAgent(deps: BootAgentDeps): BootAgent {
  const log = deps.logger.child({ component: 'boot' });
  let state: BootAgentState = 'idle';
  const a: AgentScope = {
    deps,
    config: deps.config,
    clock: deps.clock,
    stateDir: deps.stateDir,
    log,
    setState: (s) => {
      state = s;
      log.info({ state: s }, `state ${s}`);
      deps.onState?.(s);
    },
    hostname: deps.config.hostname ?? osHostname(),
    buildServers: deps.buildServers ?? BUILD_SERVER_ADDR,
    // Key, client certificate and CA certificate of the command channel (identity/ in the state dir).
    identity: new HostIdentity(deps.stateDir),
  };
  return {
    get state() {
      return state;
    },
    run: (signal) => runAgent(a, signal),
  };
}
