/**
 * One status round: build the body from the journal and the manager, try the servers starting
 * at this host's place in the list (net/server-choice.ts: spread over the nodes, failover down
 * the list), and on an answered push trust the agentsn, acknowledge what the push carried and
 * hand the reply's jobs to the runner. Three rounds in a row refused 401 by every answering
 * server mean the server lost this host: register again.
 */
import { unixSeconds, type Clock } from '@aspire/agent-core';
import {
  AgentPath,
  CREDENTIAL_HEADER,
  statusReplyEnvelope,
  type RegisterReply,
  type SigningKeyAnnouncement,
} from '@aspire/protocol';
import type { Logger } from 'pino';
import type { SubAgentManager } from '../contracts.ts';
import type { HostIdentity } from '../identity/host-identity.ts';
import type { JobRunner } from '../jobs/job-runner.ts';
import type { Transport } from '../net/http-transport.ts';
import { ServerChoice } from '../net/server-choice.ts';
import type { JobJournal } from '../state/job-journal.ts';
import type { MetaStore } from '../state/meta-store.ts';
import type { RoundResult } from './push-loop.ts';
import { processUsage, selfReport, statusBody } from './status-body.ts';
import { tryServers } from './try-servers.ts';

/** Consecutive rounds refused 401 by every answering server before the agent registers again. */
export const REREGISTER_AFTER_401_ROUNDS = 3;

export interface StatusRoundDeps {
  clock: Clock;
  logger: Logger;
  transport: Transport;
  meta: MetaStore;
  journal: JobJournal;
  jobs: JobRunner;
  manager?: SubAgentManager;
  hostname: string;
  /** Monotonic ms of the agent's start (uptime). */
  startMono: number;
  servers: () => string[];
  /** The same list by source (net/server-list.ts serverGroups): pushes spread within a source. */
  serverGroups?: () => string[][];
  stepSec: () => number;
  /** Register again (agentsn and credential of the metafile); undefined when aborted. */
  reRegister: (signal: AbortSignal) => Promise<{ server: string; reply: RegisterReply } | undefined>;
  onState: (s: 'registering' | 'running') => void;
  /** The signing key(s) an answered push announced: checked against the pin before its jobs are. */
  onSigningKeys?: (reply: Partial<SigningKeyAnnouncement>) => void;
  /** The command channel's identity: renewed through the push (a `csr` in, a `cert` back) when due. */
  identity?: HostIdentity;
  /** An answered push's reply and the server that answered (the desired-state policy, policy/policy-sync.ts). */
  onReply?: (server: string, reply: Record<string, unknown>) => void;
}

export function createStatusRound(d: StatusRoundDeps): (signal: AbortSignal) => Promise<RoundResult> {
  const { meta, journal, logger: log } = d;
  let unauthorizedRounds = 0;
  const choice = new ServerChoice(d.clock);

  return async (signal) => {
    const payload = journal.payload();
    const tags = meta.meta.tags;
    const body = statusBody({
      hostname: d.hostname,
      agentsn: meta.meta.agentsn,
      uptimeSec: (d.clock.monotonic() - d.startMono) / 1000,
      nowSec: unixSeconds(d.clock),
      step: d.stepSec(),
      agents: d.manager?.reports() ?? [],
      payload,
      ...(tags !== undefined ? { tags } : {}),
      self: selfReport(processUsage(), { jobs: d.jobs.pending, ...journal.backlog() }),
    });
    const csr = await renewalCsr();
    if (csr) body.csr = csr;
    const headers: Record<string, string> = meta.meta.credential ? { [CREDENTIAL_HEADER]: meta.meta.credential } : {};
    // Spread over the nodes: this host's own place in the list first, the rest on failure.
    const r = await tryServers(
      choice.order(d.serverGroups?.() ?? [d.servers()], meta.meta.agentsn || d.hostname),
      'status push',
      log,
      async (srv) =>
        choice.note(srv, await d.transport.post(srv, AgentPath.STATUS, body, headers, statusReplyEnvelope, signal)),
      signal,
    );
    if (!r.ok) {
      unauthorizedRounds =
        r.refusedWith.length > 0 && r.refusedWith.every((st) => st === 401) ? unauthorizedRounds + 1 : 0;
      if (unauthorizedRounds >= REREGISTER_AFTER_401_ROUNDS) {
        unauthorizedRounds = 0;
        await reRegister(signal);
      }
      return {
        kind: 'failed',
        ...(r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}),
        slowDown: r.refused,
      };
    }
    unauthorizedRounds = 0;
    const reply = r.ok.value;
    log.debug(
      {
        server: r.ok.server,
        sentJobs: payload.jobs.length,
        sentEvents: payload.events.length,
        gotJobs: reply.jobs?.length ?? 0,
      },
      'status push answered',
    );
    // The server has what this push carried: state-file write failures (full disk) are logged,
    // not turned into a failed round (memory is right; the disk catches up on the next write).
    if (!meta.meta.trusted) {
      await meta.update({ trusted: true }).catch((err: unknown) => log.error({ err }, 'cannot write the metafile'));
      log.info({ agentsn: meta.meta.agentsn, server: r.ok.server }, 'first status push answered: agentsn trusted');
    }
    await journal.acknowledge(payload).catch((err: unknown) => log.error({ err }, 'cannot write the job journal'));
    if (csr && reply.cert) {
      await d.identity?.save(reply.cert, reply.caCert).then(
        () => log.info({ agentsn: meta.meta.agentsn }, 'host certificate renewed'),
        (err: unknown) => log.error({ err }, 'cannot write the renewed host certificate'),
      );
    } else if (csr) {
      d.identity?.declined(d.clock.now());
      log.warn(
        { agentsn: meta.meta.agentsn },
        'asked for a host certificate; the server issued none (asking again in an hour)',
      );
    }
    d.onSigningKeys?.(reply);
    if (reply.jobs && reply.jobs.length > 0) await d.jobs.accept(reply.jobs);
    // After the jobs: a job and its revoke in one reply end revoked, never run.
    if (reply.revoke && reply.revoke.length > 0) await d.jobs.revoke(reply.revoke);
    d.onReply?.(r.ok.server, reply);
    return { kind: 'ok' };
  };

  /** A CSR when the host certificate is missing, for another agentsn, or has a third of its lifetime left. */
  async function renewalCsr(): Promise<string | undefined> {
    const id = d.identity;
    if (!id || !id.needsCertificate(meta.meta.agentsn, d.clock.now())) return undefined;
    return id.csr(meta.meta.agentsn).catch((err: unknown) => {
      log.error({ err }, 'cannot make the host CSR; the certificate is not renewed');
      return undefined;
    });
  }

  async function reRegister(signal: AbortSignal): Promise<void> {
    log.warn(
      { agentsn: meta.meta.agentsn },
      `status refused with 401 ${REREGISTER_AFTER_401_ROUNDS} rounds in a row (the server lost this host): registering again`,
    );
    d.onState('registering');
    const reg = await d.reRegister(signal);
    if (!reg) return;
    await meta.update({
      agentsn: reg.reply.agentsn,
      trusted: false,
      registeredAt: unixSeconds(d.clock),
      ...(reg.reply.credential !== undefined ? { credential: reg.reply.credential } : {}),
      ...(reg.reply.tags ? { tags: reg.reply.tags, tagsFrom: 'server' as const } : {}),
    });
    log.info({ agentsn: meta.meta.agentsn, server: reg.server }, 'registered');
    d.onState('running');
  }
}
