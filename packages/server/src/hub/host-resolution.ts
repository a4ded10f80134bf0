/**
 * Polaris hosts[] entries resolved to connections once per request: the scope check and the
 * fan-out use the same connection, so a token is checked against the agentsn its command
 * actually goes to. A hostname several connected hosts carry goes to none of them.
 */
import { failedReply, ErrorCode, errorMessage, type ReplyFrame } from '@aspire/protocol';
import type { HostLookup } from './agent-registry.ts';
import type { CommandHub } from './command-hub.ts';

export type ResolvedHosts = ReadonlyMap<string, HostLookup>;

export function resolveHosts(hub: Pick<CommandHub, 'registry'>, names: readonly string[]): ResolvedHosts {
  return new Map(names.map((n) => [n, hub.registry.lookup(n)]));
}

/** The per-host answer for an ambiguous hostname (IDENTITY_HOSTNAME_AMBIGUOUS). */
export function ambiguousFailure(id: string, host: string, count: number): ReplyFrame {
  const code = ErrorCode.IDENTITY_HOSTNAME_AMBIGUOUS;
  return failedReply(id, code, `${errorMessage(code)}: ${count} connected hosts are named ${JSON.stringify(host)}`);
}
