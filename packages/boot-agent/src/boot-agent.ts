/**
 * createBootAgent: the BootAgent's control loop, apart from main.ts (which only parses flags,
 * loads config, makes the logger and wires signals). Lifecycle: run(signal) resolves after a
 * clean stop once the signal aborts. States (docs/boot-agent.md):
 *   loading -> registering (first start, or agentsn not yet trusted) -> running -> stopping -> stopped
 */
import { randomUUID } from 'node:crypto';
import { renameSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { BUILD_SERVER_ADDR, VERSION, unixSeconds, type Clock, type HostPolicy } from '@aspire/agent-core';
import { MAX_STATUS_BODY_BYTES, verifySigned, type SigningKeyAnnouncement } from '@aspire/protocol';
import type { Logger } from 'pino';
import type { BootConfig } from './config/boot-config.ts';
import type { SubAgentManager, SubAgentManagerDeps } from './contracts.ts';
import { applyConfigJob } from './jobs/config-job.ts';
import { HostIdentity } from './identity/host-identity.ts';
import { JobRunner } from './jobs/job-runner.ts';
import { PushLoop } from './loop/push-loop.ts';
import { registerUntilDone } from './loop/registrar.ts';
import { bootVersionString, machineArch, osString } from './loop/status-body.ts';
import { createStatusRound } from './loop/status-round.ts';
import { createPolicySync, type PolicySync } from './policy/policy-sync-factory.ts';
import { createHttpTransport, type Transport } from './net/http-transport.ts';
import { rotateFor } from './net/server-choice.ts';
import { checkServerList, serverGroups, serverUrls } from './net/server-list.ts';
import { JobJournal } from './state/job-journal.ts';
import type { ExecRequest, SelfUpgrade } from './self-upgrade/self-upgrade.ts';
import { pendingUpgradeJobIds } from './subagents/upgrade-marker.ts';
import { MetaStore, metaPath, readMeta, settleWithConfig, type MetaFile } from './state/meta-store.ts';
import { ServerKeyPin, readConfiguredKey } from './state/server-key-pin.ts';

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

export function createBootAgent(deps: BootAgentDeps): BootAgent {
  const { config, clock, stateDir } = deps;
  const log = deps.logger.child({ component: 'boot' });
  let state: BootAgentState = 'idle';
  const setState = (s: BootAgentState) => {
    state = s;
    log.info({ state: s }, `state ${s}`);
    deps.onState?.(s);
  };
  const hostname = config.hostname ?? osHostname();
  /** Set in run() once the pin is open: register and status replies' key announcements go here. */
  let onSigningKeys: (a: Partial<SigningKeyAnnouncement>) => void = () => undefined;
  const buildServers = deps.buildServers ?? BUILD_SERVER_ADDR;
  /** `servers` of boot.json: from the checked config, refreshed while no server is known at all. */
  let configuredServers: readonly string[] = config.servers;
  // Key, client certificate and CA certificate of the command channel (identity/ in the state dir).
  const identity = new HostIdentity(stateDir);

  async function run(signal: AbortSignal): Promise<void> {
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

    // The server's signing key: jobs that do not verify against it are refused (docs/security.md).
    const pin = ServerKeyPin.open(
      stateDir,
      config.serverPublicKey ? readConfiguredKey(config.serverPublicKey) : undefined,
    );
    let refusedKid: string | undefined;
    onSigningKeys = (a) => {
      try {
        const out = pin.accept(a);
        if (out.kind === 'pinned' || out.kind === 'next-recorded' || out.kind === 'rotated')
          log.info({ kid: out.kid, pin: pin.path }, `server signing key ${out.kind}`);
        if (out.kind !== 'refused') return;
        // Once per offered key: a server announcing it on every push must not flood the queue.
        if (refusedKid === out.offeredKid) return;
        refusedKid = out.offeredKid;
        log.error({ offeredKid: out.offeredKid, pinnedKid: pin.currentKid }, out.message);
        journal.emit('refused', out.message, {
          agent: BOOT_AGENT_NAME,
          data: { errcode: out.errcode, offeredKid: out.offeredKid, pinnedKid: pin.currentKid },
        });
      } catch (err) {
        log.error({ err }, 'cannot write the pinned server key');
      }
    };

    // Sub-agents are supervised from the start, even while the server cannot be reached.
    const manager = deps.createManager?.({
      clock,
      logger: deps.logger,
      events: journal,
      stateDir: agentsDir,
      config: config.supervision,
    });
    let pushLoop: PushLoop | undefined;
    let runner: JobRunner | undefined;
    let desired: PolicySync | undefined;
    const resumedResults: Promise<void>[] = [];
    try {
      if (manager) await manager.start();
      // Re-adopted (never stopped): the first half of a new version's health gate.
      self?.adopted();
      const resumed = manager?.resumeInterrupted?.(signal) ?? [];
      for (const r of resumed) {
        log.info({ jobId: r.jobId }, 'job cut short by the last stop: finishing it');
        resumedResults.push(
          r.outcome
            .then(async (outcome) => {
              if (signal.aborted && outcome.resumeLater) return;
              await journal.finish(r.jobId, outcome);
              log.info({ jobId: r.jobId, errcode: outcome.errcode }, `job finished: ${outcome.message}`);
              pushLoop?.pushSoon();
            })
            .catch((err: unknown) =>
              log.error(
                { err, jobId: r.jobId },
                'resumed job finished but its result could not be journaled; it is kept in memory and sent with the next push',
              ),
            ),
        );
      }
      const taken = new Set(resumed.map((r) => r.jobId));
      await journal
        .interrupt([...resumable].filter((id) => !taken.has(id)))
        .catch((err: unknown) => log.error({ err }, 'cannot write the job journal'));
      const meta = await loadOrRegister(signal, transport);
      if (!meta) return;
      const sources = () => ({
        build: buildServers,
        servers: meta.meta.servers,
        configured: configuredServers,
        pushed: meta.meta.pushedServers,
      });
      const servers = () => serverUrls(sources());
      const stepSec = () => meta.meta.step;
      // The runner tells the loop about step changes and fresh results; the loop runs rounds
      // that feed the runner: the runner is made first and reaches the loop through pushLoop.
      const jobs = new JobRunner({
        logger: log,
        journal,
        ...(manager ? { manager } : {}),
        config: (job) => applyConfigJob(job, meta, () => pushLoop?.stepChanged()),
        // Results go out with an early push instead of waiting up to a whole step.
        onResults: () => pushLoop?.pushSoon(),
        verify: (job) => verifySigned('job', job, { keys: pin.keys(), agentsn: meta.meta.agentsn, nowMs: clock.now() }),
        verifyRevoke: (notice) =>
          verifySigned('revoke', notice, { keys: pin.keys(), agentsn: meta.meta.agentsn, nowMs: clock.now() }),
        ...(deps.policy ? { policy: deps.policy } : {}),
        ...(self ? { selfUpgrade: self } : {}),
      });
      runner = jobs;
      // The server's desired-state policy: pulled when its hash changes (or daily), converged
      // through the same job queue and journal (docs/lifecycle.md "Desired state — on the host").
      desired = createPolicySync({
        config: config.desiredState,
        clock,
        logger: log,
        stateDir,
        transport,
        journal,
        manager,
        runner: jobs,
        agentsn: () => meta.meta.agentsn,
        credential: () => meta.meta.credential,
        keys: () => pin.keys(),
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
        startMono,
        servers,
        serverGroups: () => serverGroups(sources()),
        stepSec,
        reRegister: (s) => register(s, transport, servers, meta.meta.agentsn, meta.meta.credential),
        identity,
        onState: setState,
        onSigningKeys: (a) => onSigningKeys(a),
        onReply: (server, reply) => desired?.afterReply(server, reply),
      });
      // An answered push is the second half of a new version's health gate.
      const answered: typeof round = async (s) => {
        const r = await round(s);
        if (r.kind === 'ok') self?.pushAnswered();
        return r;
      };
      const loop = new PushLoop({ clock, logger: log, stepSec, round: answered });
      pushLoop = loop;
      // A sub-agent given up on, killed for its limits or rolled back should not wait a whole step.
      journal.onEmit = (ev) => {
        if ((URGENT_EVENT_KINDS as readonly string[]).includes(ev.kind)) loop.pushSoon();
      };

      setState('running');
      loop.start();
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
      await pushLoop?.stop();
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

  /** Metafile present and trusted: use it. Otherwise register (seed: trusted only after a push is answered). */
  async function loadOrRegister(signal: AbortSignal, transport: Transport): Promise<MetaStore | undefined> {
    const read = readMeta(stateDir);
    let base: MetaFile | undefined;
    if (read.kind === 'ok') {
      base = read.meta;
      if (deps.serverFlag !== undefined)
        log.info({ ignored: deps.serverFlag }, "-S is used on first start only; the metafile's server list is kept");
      base = settleWithConfig(base, config);
      if (base.trusted) {
        const store = new MetaStore(stateDir, base);
        if (JSON.stringify(base) !== JSON.stringify(read.meta)) {
          await store.update({}).catch((err: unknown) => log.error({ err }, 'cannot write the metafile'));
        }
        return store;
      }
      log.info({ agentsn: base.agentsn }, 'agentsn not yet confirmed by a status push: registering again');
    } else if (read.kind === 'corrupt') {
      const aside = `${metaPath(stateDir)}.corrupt-${Date.now()}`;
      try {
        renameSync(metaPath(stateDir), aside);
      } catch {
        /* best effort: it is rewritten below either way */
      }
      log.error({ error: read.error, movedTo: aside }, 'metafile unreadable: treating this as a first start');
    }
    let servers: string[] = base?.servers ?? [];
    if (!base && deps.serverFlag !== undefined) {
      const parsed = checkServerList(deps.serverFlag);
      // main.ts rejects a bad -S before we get here; this is the factory's own guard.
      if (!parsed.ok) throw new Error(`-S: ${parsed.error}`);
      servers = parsed.entries;
    }
    const proposed = base?.agentsn ?? randomUUID();
    setState('registering');
    const list = () => {
      // From the proposed agentsn's place in each source, as its status pushes will (net/server-choice.ts):
      // a fleet enrolling at once spreads its registrations (and their certificates) over the nodes.
      const urls = () =>
        serverGroups({
          build: buildServers,
          servers,
          configured: configuredServers,
          pushed: base?.pushedServers ?? [],
        }).flatMap((g) => rotateFor(g, proposed));
      const now = urls();
      if (now.length > 0 || !deps.reloadConfiguredServers) return now;
      // Waiting for a first server: an operator may just have written it into boot.json.
      const fresh = deps.reloadConfiguredServers();
      if (fresh && fresh.length > 0) {
        configuredServers = fresh;
        log.info({ servers: fresh }, 'boot.json now names a server');
      }
      return urls();
    };
    const reg = await register(signal, transport, list, proposed, base?.credential);
    if (!reg) return undefined;
    const { reply } = reg;
    let meta: MetaFile = settleWithConfig(
      {
        version: 1,
        agentsn: reply.agentsn,
        servers,
        pushedServers: base?.pushedServers ?? [],
        trusted: false,
        registeredAt: unixSeconds(clock),
        step: base?.step ?? config.step,
        stepFrom: base?.stepFrom ?? 'config',
        ...(base?.tags !== undefined ? { tags: base.tags, tagsFrom: base.tagsFrom ?? 'server' } : {}),
      },
      config,
    );
    if (reply.credential !== undefined) meta.credential = reply.credential;
    else if (base?.credential !== undefined) meta.credential = base.credential;
    // Tags the server hands out at registration (seed 002) are the server's.
    if (reply.tags) meta = { ...meta, tags: reply.tags, tagsFrom: 'server' };
    const store = new MetaStore(stateDir, meta);
    // Unwritten (full disk), the registration is repeated on the next start; the agent goes on meanwhile.
    await store.update({}).catch((err: unknown) => log.error({ err }, 'cannot write the metafile'));
    log.info({ agentsn: meta.agentsn, server: reg.server }, 'registered');
    return store;
  }

  /** POST /agent/register until a server answers (undefined when the signal aborts first). */
  async function register(
    signal: AbortSignal,
    transport: Transport,
    servers: () => string[],
    proposed: string,
    credential: string | undefined,
  ) {
    // The server answers a client certificate for this CSR (bound to the agentsn it answers).
    const csr = await identity.csr(proposed).catch((err: unknown) => {
      log.error({ err }, 'cannot make the host key or its CSR: registering without a client certificate');
      return undefined;
    });
    const reg = await registerUntilDone({
      clock,
      logger: log,
      transport,
      servers,
      request: {
        hostname,
        agentsn: proposed,
        version: bootVersionString(),
        os: osString(),
        arch: machineArch(),
        ...(csr ? { csr } : {}),
      },
      ...(config.enrollSecret ? { enrollSecret: config.enrollSecret } : {}),
      ...(credential ? { credential } : {}),
      freshAgentsn: () => randomUUID(),
      signal,
    }).catch((err: unknown) => {
      if (signal.aborted) return undefined;
      throw err;
    });
    if (reg && reg.reply.agentsn !== proposed)
      log.warn({ proposed, adopted: reg.reply.agentsn }, 'server answered another agentsn (conflict): adopted');
    if (reg) onSigningKeys(reg.reply);
    if (reg?.reply.cert) await saveCertificate(reg.reply.cert, reg.reply.caCert);
    else if (reg && csr) {
      identity.declined(clock.now());
      log.warn(
        { agentsn: reg.reply.agentsn },
        'the server issued no client certificate (no host CA?): the BasicAgent cannot join its command hub',
      );
    }
    return reg;
  }

  async function saveCertificate(cert: string, caCert: string | undefined): Promise<void> {
    await identity.save(cert, caCert).then(
      () => log.info({ file: identity.files.cert }, 'host certificate saved'),
      (err: unknown) => log.error({ err }, 'cannot write the host certificate'),
    );
  }

  return {
    get state() {
      return state;
    },
    run,
  };
}
