/**
 * Which server of the list a status push goes to first (docs/scale.md "Deploying N nodes"):
 * with several `aspire` nodes in the list (one source: build default, -S, boot.json `servers` or
 * a pushed list), hosts spread over them instead of all pushing to the first. Each host starts at a place in the list fixed by a hash of its agentsn (stable from
 * round to round, so a host keeps one node while it is up) and goes on down the list from there
 * when a server fails (the failover of design.md §3). A server that failed for a transport reason
 * (connection refused, timeout, 5xx, 429) is tried last for a while, so a lost node does not cost
 * every round a timeout; when that while has passed the host goes back to its own node.
 */
import type { Clock } from '@aspire/agent-core';
import type { Outcome } from './outcome.ts';

/** How long a server that failed is tried after the others. */
export const FAILED_SERVER_HOLD_MS = 60_000;

/** FNV-1a, 32 bits: a stable, well spread start index; no security rests on it. */
export function stableHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The list rotated to start at this key's place (entries and their order otherwise kept). */
export function rotateFor(servers: readonly string[], key: string): string[] {
  if (servers.length < 2) return [...servers];
  const start = stableHash(key) % servers.length;
  return [...servers.slice(start), ...servers.slice(0, start)];
}

export class ServerChoice {
  private readonly failedAt = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly holdMs = FAILED_SERVER_HOLD_MS,
  ) {}

  /**
   * The order to try the servers in this round: each source's servers (server-list.ts
   * serverGroups) rotated to the key's place, sources in order, recently failed servers last.
   */
  order(groups: readonly (readonly string[])[], key: string): string[] {
    const now = this.clock.now();
    for (const [s, at] of this.failedAt) if (now - at >= this.holdMs) this.failedAt.delete(s);
    const rotated = groups.flatMap((g) => rotateFor(g, key));
    return [...rotated.filter((s) => !this.failedAt.has(s)), ...rotated.filter((s) => this.failedAt.has(s))];
  }

  /**
   * Record how a server did and hand the outcome on. Only transport failures count: a server
   * that answered (even a 4xx refusal) is up, and the other nodes share its database.
   */
  note<T>(server: string, o: Outcome<T>): Outcome<T> {
    if (o.kind === 'retry') this.failedAt.set(server, this.clock.now());
    else this.failedAt.delete(server);
    return o;
  }
}
