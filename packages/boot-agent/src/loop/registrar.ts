/**
 * First start (design.md §3): POST /agent/register {hostname, agentsn} on each server in turn until
 * one answers, with jittered backoff between rounds; the server may answer another agentsn
 * (conflict) and the agent adopts it. Never gives up; resolves only when registered, rejects only
 * when the signal aborts.
 */
import { Backoff, type Clock } from '@aspire/agent-core';
import {
  AgentPath,
  CREDENTIAL_HEADER,
  ENROLL_HEADER,
  registerReply,
  type RegisterReply,
  type RegisterRequest,
} from '@aspire/protocol';
import type { Logger } from 'pino';
import type { Transport } from '../net/http-transport.ts';
import { tryServers } from './try-servers.ts';

export interface RegisterDeps {
  clock: Clock;
  logger: Logger;
  transport: Transport;
  servers: () => readonly string[];
  request: RegisterRequest;
  enrollSecret?: string;
  /** The credential of an earlier registration: lets the server keep this host's agentsn. */
  credential?: string;
  signal: AbortSignal;
  backoff?: Backoff;
  /**
   * A server answered 409: the agentsn is registered to a host of this hostname and this agent
   * cannot prove it is that host (no credential: the first answer was lost, or the state dir was
   * wiped). Called for a fresh agentsn to propose instead, after the ordinary backoff (not the
   * refusal floor); without it the agent keeps asking.
   */
  freshAgentsn?: () => string;
}

export const REGISTER_BACKOFF = { baseMs: 1000, maxMs: 60_000 } as const;

export async function registerUntilDone(d: RegisterDeps): Promise<{ server: string; reply: RegisterReply }> {
  const backoff = d.backoff ?? new Backoff(REGISTER_BACKOFF);
  const headers: Record<string, string> = {};
  if (d.enrollSecret) headers[ENROLL_HEADER] = d.enrollSecret;
  if (d.credential) headers[CREDENTIAL_HEADER] = d.credential;
  let request = d.request;
  for (;;) {
    d.signal.throwIfAborted();
    const body = request;
    const servers = d.servers();
    if (servers.length === 0) {
      // No server known from any source: wait quietly, one line per backoff (docs/install.md).
      const delay = backoff.next();
      d.logger.warn(
        { retryInMs: delay },
        `no server known yet (no build-time default, no -S, no "servers" in boot.json, nothing pushed): waiting; set "servers" in boot.json`,
      );
      await d.clock.sleep(delay, d.signal);
      continue;
    }
    const r = await tryServers(
      servers,
      'register',
      d.logger,
      (s) => d.transport.post(s, AgentPath.REGISTER, body, headers, registerReply, d.signal),
      d.signal,
    );
    if (r.ok) return { server: r.ok.server, reply: r.ok.value };
    let proposingFresh = false;
    if (r.refusedWith.includes(409) && !d.credential && d.freshAgentsn) {
      request = { ...request, agentsn: d.freshAgentsn() };
      proposingFresh = true;
      d.logger.warn(
        { taken: body.agentsn, proposed: request.agentsn },
        'agentsn registered to this hostname and no credential to prove it: proposing a fresh one next',
      );
    }
    d.signal.throwIfAborted();
    let delay = backoff.next();
    // A refusal holds the next round off for the longest backoff, but a 409 answered with a fresh
    // proposal is progress, not a refusal: that round goes after the ordinary (growing) backoff,
    // else a host whose agentsn is taken would stay off the fleet for a minute.
    if (r.refused && !proposingFresh) delay = Math.max(delay, REGISTER_BACKOFF.maxMs);
    if (r.retryAfterMs !== undefined) delay = Math.max(delay, r.retryAfterMs);
    d.logger.warn({ retryInMs: delay, attempts: backoff.attempts }, 'registration failed on every server; retrying');
    await d.clock.sleep(delay, d.signal);
  }
}
