/**
 * Where a connecting BasicAgent goes (docs/scale.md "Placement"). Each node decides alone from a
 * view refreshed every heartbeat, so a burst of connections must not bounce between nodes:
 *
 * - loads are compared at one instant: another node's count as of its heartbeat is carried
 *   forward by its net rate over that heartbeat (up to one of its periods), plus the agents this
 *   node has sent it since; this node's own count is the live one;
 * - a node redirects only when it holds more than the other by a margin, max(minimum, 10%);
 * - among the nodes under the margin, a hash of the host picks one (rendezvous), so a burst
 *   spreads instead of all going to the single least loaded node;
 * - a host redirected to a node is announced to it, and that node accepts it whatever its own
 *   view says (the redirect frame carries no hop count, docs/design.md section 4).
 */
import { createHash } from 'node:crypto';

export interface LiveNode {
  nodeId: string;
  advertise: string;
  /** BasicAgents connected to this node (as of its last heartbeat, or counted now). */
  agents: number;
}

/** A live node in the view redirects go by: `asOf` is when its heartbeat row was written. */
export interface PlacementEntry extends LiveNode {
  asOf: number;
}

/** One live node as its heartbeat row describes it. */
export interface NodeLoad extends LiveNode {
  /** Net agents per second over its last heartbeat (negative when agents leave). */
  rate: number;
  /** Its clock when it wrote the row. */
  beatAt: number;
  /** Its heartbeat period: how far its rate is carried forward. */
  heartbeatMs: number;
}

/** Share of this node's count that is always tolerated before redirecting. */
export const MARGIN_SHARE = 0.1;
/** How long an announced host is accepted without question. */
export const EXPECT_MS = 30_000;
/** Announced hosts remembered at most (the oldest go first). */
const EXPECT_MAX = 100_000;

export function redirectMargin(localAgents: number, minMargin: number): number {
  return Math.max(minMargin, Math.floor(localAgents * MARGIN_SHARE));
}

/** Its count at its heartbeat carried forward to `now` by its net rate (never below 0). */
export function estimateLoad(n: NodeLoad, now: number): number {
  const elapsed = Math.min(Math.max(0, now - n.beatAt), n.heartbeatMs);
  return Math.max(0, n.agents + (n.rate * elapsed) / 1000);
}

function score(identity: string, nodeId: string): number {
  return createHash('sha256').update(`${identity}\0${nodeId}`).digest().readUIntBE(0, 6);
}

/**
 * The node to send this host to, if any: among the other nodes whose load is below this node's
 * by more than the margin, the one with the highest hash of (host, node). Ties and near-ties
 * keep the agent here.
 */
export function pickRedirect<T extends { nodeId: string; load: number }>(
  others: readonly T[],
  self: string,
  localAgents: number,
  identity: string,
  margin: number,
): T | undefined {
  let best: T | undefined;
  let bestScore = -1;
  for (const n of others) {
    if (n.nodeId === self || localAgents - n.load <= margin) continue;
    const s = score(identity, n.nodeId);
    if (s > bestScore) [best, bestScore] = [n, s];
  }
  return best;
}

export class Placement {
  private view: NodeLoad[] = [];
  /** Agents sent to each node since the view was read. */
  private readonly sent = new Map<string, number>();
  /** Hosts other nodes have just sent here, until when. */
  private readonly expected = new Map<string, number>();

  constructor(
    private readonly self: string,
    private readonly minMargin: number,
  ) {}

  update(view: NodeLoad[]): void {
    this.view = view;
    this.sent.clear();
  }

  /** Another node redirected these hosts here: accept them when they arrive. */
  expect(identities: readonly string[], now: number): void {
    for (const id of identities) {
      this.expected.delete(id);
      this.expected.set(id, now + EXPECT_MS);
    }
    for (const [id, until] of this.expected) {
      if (this.expected.size <= EXPECT_MAX && until > now) break;
      this.expected.delete(id);
    }
  }

  /** The node to redirect this host to (counted at once as sent there), or none: accept here. */
  choose(localAgents: number, identity: string, now: number): NodeLoad | undefined {
    const until = this.expected.get(identity);
    if (until !== undefined) {
      this.expected.delete(identity);
      if (until > now) return undefined;
    }
    const others = this.view
      .filter((n) => n.nodeId !== this.self)
      .map((n) => ({ nodeId: n.nodeId, node: n, load: estimateLoad(n, now) + (this.sent.get(n.nodeId) ?? 0) }));
    const target = pickRedirect(others, this.self, localAgents, identity, redirectMargin(localAgents, this.minMargin));
    if (!target) return undefined;
    this.sent.set(target.nodeId, (this.sent.get(target.nodeId) ?? 0) + 1);
    return target.node;
  }

  /** The view as of the last heartbeat plus the agents sent since (GET /cluster/nodes `placement`). */
  snapshot(): PlacementEntry[] {
    return this.view.map((n) => ({
      nodeId: n.nodeId,
      advertise: n.advertise,
      agents: n.agents + (this.sent.get(n.nodeId) ?? 0),
      asOf: n.beatAt,
    }));
  }

  liveIds(): Set<string> {
    return new Set(this.view.map((n) => n.nodeId));
  }

  get size(): number {
    return this.view.length;
  }
}
