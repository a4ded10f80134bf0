import type { Logger } from 'pino';
import type { Outcome } from '../net/outcome.ts';

export interface ServersResult<T> {
  ok?: { server: string; value: T };
  /** Longest Retry-After asked for by a server that failed. */
  retryAfterMs?: number;
  /** Some server refused the request outright (4xx): slow down instead of hammering. */
  refused: boolean;
  /** HTTP statuses of the refusals, in list order. */
  refusedWith: number[];
}

/**
 * Try one exchange on each server in list order until one answers ok; a failed server is
 * skipped to the next (design.md). Every failure is logged with its reason.
 */
export async function tryServers<T>(
  servers: readonly string[],
  what: string,
  logger: Logger,
  attempt: (server: string) => Promise<Outcome<T>>,
  signal: AbortSignal,
): Promise<ServersResult<T>> {
  const res: ServersResult<T> = { refused: false, refusedWith: [] };
  if (servers.length === 0) {
    logger.error(
      `${what}: the server list is empty (no build-time default, no -S, no "servers" in boot.json, nothing pushed)`,
    );
    return res;
  }
  for (const server of servers) {
    if (signal.aborted) break;
    const o = await attempt(server);
    if (o.kind === 'ok') {
      res.ok = { server, value: o.value };
      return res;
    }
    if (signal.aborted) break;
    if (o.kind === 'fatal') {
      res.refused = true;
      if (o.status !== undefined) res.refusedWith.push(o.status);
    }
    if (o.kind === 'retry' && o.retryAfterMs !== undefined)
      res.retryAfterMs = Math.max(res.retryAfterMs ?? 0, o.retryAfterMs);
    logger.warn(
      { server, outcome: o.kind, retryAfterMs: o.kind === 'retry' ? o.retryAfterMs : undefined },
      `${what} to ${server} failed: ${o.reason}`,
    );
  }
  return res;
}
