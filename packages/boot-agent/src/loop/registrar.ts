/**
 * First start (seed 002): POST /agent/register {hostname, agentsn} on each server in turn until
 * one answers, with jittered backoff between rounds; the server may answer another agentsn
 * (conflict) and the agent adopts it. Never gives up; resolves only when registered, rejects only
 * when the signal aborts.
 */
import { Backoff, type Clock } from '@aspire/agent-core';
import { AgentPath, CREDENTIAL_HEADER, ENROLL_HEADER, registerReply, type RegisterReply, type RegisterRequest } from '@aspire/protocol';
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
}

export const REGISTER_BACKOFF = { baseMs: 1000, maxMs: 60_000 } as const;

export async function registerUntilDone(d: RegisterDeps): Promise<{ server: string; reply: RegisterReply }> {
  const backoff = d.backoff ?? new Backoff(REGISTER_BACKOFF);
  const headers: Record<string, string> = {};
  if (d.enrollSecret) headers[ENROLL_HEADER] = d.enrollSecret;
  if (d.credential) headers[CREDENTIAL_HEADER] = d.credential;
  for (;;) {
    d.signal.throwIfAborted();
    const r = await tryServers(d.servers(), 'register', d.logger, (s) => d.transport.post(s, AgentPath.REGISTER, d.request, headers, registerReply, d.signal), d.signal);
    if (r.ok) return { server: r.ok.server, reply: r.ok.value };
    d.signal.throwIfAborted();
    let delay = backoff.next();
    if (r.refused) delay = Math.max(delay, REGISTER_BACKOFF.maxMs);
    if (r.retryAfterMs !== undefined) delay = Math.max(delay, r.retryAfterMs);
    d.logger.warn({ retryInMs: delay, attempts: backoff.attempts }, 'registration failed on every server; retrying');
    await d.clock.sleep(delay, d.signal);
  }
}
