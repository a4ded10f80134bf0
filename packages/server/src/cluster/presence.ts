/**
 * Which node holds which BasicAgent's channel, and which nodes are alive (docs/scale.md).
 * A node is live while its row is not expired (renewed every heartbeat) and its listener
 * connection is attached to PostgreSQL (pg_stat_activity by application_name): a node killed
 * with -9 loses its connections at once, so it is seen lost within one heartbeat, not a TTL.
 */
import type { Pool } from 'pg';
import { applicationNameOf } from './node-bus.ts';

export interface LiveNode {
  nodeId: string;
  advertise: string;
  /** BasicAgents whose presence names this node. */
  agents: number;
}

/**
 * Least loaded placement (seed 003 redirect): the other live node with the fewest agents, when
 * it holds fewer than this node does now; else none (accept here). Ties keep the agent here, and
 * among the others the first by node id wins.
 */
export function pickRedirect(live: readonly LiveNode[], self: string, localAgents: number): LiveNode | undefined {
  let best: LiveNode | undefined;
  for (const n of live) if (n.nodeId !== self && (!best || n.agents < best.agents)) best = n;
  return best && best.agents < localAgents ? best : undefined;
}

/** `sn:<agentsn>` or `host:<hostname>`, as the hub's registry keys a host. */
export function presenceIdentity(c: { agentsn?: string | undefined; hostname: string }): string {
  return c.agentsn ? `sn:${c.agentsn}` : `host:${c.hostname}`;
}

export class PresenceTable {
  constructor(
    private readonly pool: Pool,
    private readonly nodeId: string,
  ) {}

  /** Insert or renew this node's row and the expiry of every presence it holds. */
  async beat(advertise: string, now: number, ttlMs: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO aspire_cluster_nodes (node_id, advertise, started, expires) VALUES ($1, $2, $3, $4)
       ON CONFLICT (node_id) DO UPDATE SET advertise = EXCLUDED.advertise, expires = EXCLUDED.expires`,
      [this.nodeId, advertise, now, now + ttlMs],
    );
    await this.pool.query('UPDATE aspire_cluster_presence SET expires = $2 WHERE node_id = $1', [
      this.nodeId,
      now + ttlMs,
    ]);
  }

  /** Leave on a clean stop: the node's row and its presence go. */
  async leave(): Promise<void> {
    await this.pool.query('DELETE FROM aspire_cluster_presence WHERE node_id = $1', [this.nodeId]);
    await this.pool.query('DELETE FROM aspire_cluster_nodes WHERE node_id = $1', [this.nodeId]);
  }

  async connected(
    c: { agentsn?: string | undefined; hostname: string; connId: string },
    now: number,
    ttlMs: number,
  ): Promise<void> {
    await this.pool.query(
      `INSERT INTO aspire_cluster_presence (identity, agentsn, hostname, node_id, conn_id, expires) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (identity) DO UPDATE SET agentsn = EXCLUDED.agentsn, hostname = EXCLUDED.hostname, node_id = EXCLUDED.node_id,
         conn_id = EXCLUDED.conn_id, expires = EXCLUDED.expires`,
      [presenceIdentity(c), c.agentsn ?? null, c.hostname, this.nodeId, c.connId, now + ttlMs],
    );
  }

  /** Only this connection's row: a host that has connected again (here or elsewhere) keeps its new one. */
  async disconnected(c: { agentsn?: string | undefined; hostname: string; connId: string }): Promise<void> {
    await this.pool.query('DELETE FROM aspire_cluster_presence WHERE identity = $1 AND node_id = $2 AND conn_id = $3', [
      presenceIdentity(c),
      this.nodeId,
      c.connId,
    ]);
  }

  /** Live nodes with their agent counts (this one included). */
  async liveNodes(now: number): Promise<LiveNode[]> {
    const r = await this.pool.query<{ node_id: string; advertise: string; agents: string }>(
      `SELECT n.node_id, n.advertise,
              (SELECT count(*) FROM aspire_cluster_presence p WHERE p.node_id = n.node_id AND p.expires > $1) AS agents
         FROM aspire_cluster_nodes n
        WHERE n.expires > $1
          AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'aspire-node:' || n.node_id)
        ORDER BY n.node_id`,
      [now],
    );
    return r.rows.map((x) => ({ nodeId: x.node_id, advertise: x.advertise, agents: Number(x.agents) }));
  }

  /**
   * The live node holding each host, named by agentsn or hostname (seed 001 hosts[] entries may
   * be either), in one query: by agentsn first, then the newest channel of that hostname. Hosts
   * held nowhere are absent from the map.
   */
  async locate(hosts: readonly string[], now: number): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (hosts.length === 0) return out;
    const r = await this.pool.query<{ host: string; node_id: string }>(
      `SELECT DISTINCT ON (q.host) q.host, p.node_id
         FROM unnest($1::text[]) AS q(host)
         JOIN aspire_cluster_presence p ON p.identity = 'sn:' || q.host OR p.hostname = q.host
         JOIN aspire_cluster_nodes n ON n.node_id = p.node_id
        WHERE p.expires > $2 AND n.expires > $2
          AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'aspire-node:' || n.node_id)
        ORDER BY q.host, (p.identity = 'sn:' || q.host) DESC, p.expires DESC`,
      [[...new Set(hosts)], now],
    );
    for (const row of r.rows) out.set(row.host, row.node_id);
    return out;
  }

  /** Whether a node's listener is still attached (its process is alive). */
  async attached(nodeIds: string[]): Promise<Set<string>> {
    if (nodeIds.length === 0) return new Set();
    const r = await this.pool.query<{ application_name: string }>(
      'SELECT application_name FROM pg_stat_activity WHERE application_name = ANY($1)',
      [nodeIds.map(applicationNameOf)],
    );
    const names = new Set(r.rows.map((x) => x.application_name));
    return new Set(nodeIds.filter((id) => names.has(applicationNameOf(id))));
  }

  /** Cluster housekeeping (run once per period by the sweep lease): rows of nodes gone for good. */
  async prune(now: number, keepLostMs: number): Promise<void> {
    await this.pool.query('DELETE FROM aspire_cluster_presence WHERE expires <= $1', [now]);
    await this.pool.query('DELETE FROM aspire_cluster_nodes WHERE expires <= $1', [now - keepLostMs]);
    await this.pool.query('DELETE FROM aspire_cluster_payloads WHERE created <= $1', [now - 600_000]);
  }
}

/**
 * Run-once-per-period across the cluster: the node that moves `next_due` forward (atomically,
 * only when it is due) runs this period's pass; the others skip it.
 */
export async function claimSweep(
  pool: Pool,
  name: string,
  nodeId: string,
  now: number,
  periodMs: number,
): Promise<boolean> {
  // 5% slack: a node whose timer fires a little early still claims the next period.
  const next = now + Math.max(1, Math.floor(periodMs * 0.95));
  const r = await pool.query(
    `INSERT INTO aspire_cluster_sweeps (name, node_id, next_due, runs) VALUES ($1, $2, $3, 1)
     ON CONFLICT (name) DO UPDATE SET node_id = EXCLUDED.node_id, next_due = EXCLUDED.next_due, runs = aspire_cluster_sweeps.runs + 1
       WHERE aspire_cluster_sweeps.next_due <= $4
     RETURNING name`,
    [name, nodeId, next, now],
  );
  return (r.rowCount ?? 0) > 0;
}
