/**
 * Which node holds which BasicAgent's channel, and which nodes are alive (docs/scale.md).
 * Liveness is one row per node, renewed every heartbeat (with its agent count and net rate,
 * for placement); a presence row is written only when a channel opens or closes, and counts
 * only while its node is live. A node is live while its row is not expired and its listener
 * connection is attached to PostgreSQL (pg_stat_activity by application_name): a node killed
 * with -9 loses its connections at once, so it is seen lost within one heartbeat, not a TTL.
 */
import type { Pool } from 'pg';
import { applicationNameOf } from './node-bus.ts';
import type { LiveNode, NodeLoad } from './placement.ts';

export type { LiveNode } from './placement.ts';

/** Heartbeats a node may miss before its row expires (its row's expiry is this many periods ahead). */
export const MISSED_BEATS = 3;

/** `sn:<agentsn>` or `host:<hostname>`, as the hub's registry keys a host. */
export function presenceIdentity(c: { agentsn?: string | undefined; hostname: string }): string {
  return c.agentsn ? `sn:${c.agentsn}` : `host:${c.hostname}`;
}

/** The node is live: row not expired, listener attached. */
const LIVE = `n.expires > $1
          AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'aspire-node:' || n.node_id)`;

export class PresenceTable {
  constructor(
    private readonly pool: Pool,
    private readonly nodeId: string,
  ) {}

  /**
   * Before joining: rows an earlier run of this node id left (a crash, kill -9) go, since the
   * heartbeat of this run would make them count again.
   */
  async join(): Promise<void> {
    await this.pool.query('DELETE FROM aspire_cluster_presence WHERE node_id = $1', [this.nodeId]);
    await this.pool.query('DELETE FROM aspire_cluster_nodes WHERE node_id = $1', [this.nodeId]);
  }

  /**
   * Insert or renew this node's row: expiry, agent count and net rate (one row, whatever the
   * agents). True when the row had lapsed (absent or expired: a database outage, a stalled
   * process), since housekeeping may then have deleted this node's presence.
   */
  async beat(advertise: string, now: number, ttlMs: number, agents: number, rate: number): Promise<boolean> {
    const r = await this.pool.query<{ was: string | null }>(
      `WITH old AS (SELECT expires FROM aspire_cluster_nodes WHERE node_id = $1)
       INSERT INTO aspire_cluster_nodes (node_id, advertise, started, expires, agents, rate, beat_at)
       VALUES ($1, $2, $3, $4, $5, $6, $3)
       ON CONFLICT (node_id) DO UPDATE SET advertise = EXCLUDED.advertise, expires = EXCLUDED.expires,
         agents = EXCLUDED.agents, rate = EXCLUDED.rate, beat_at = EXCLUDED.beat_at
       RETURNING (SELECT expires FROM old) AS was`,
      [this.nodeId, advertise, now, now + ttlMs, agents, rate],
    );
    const was = r.rows[0]?.was;
    return was === null || was === undefined || Number(was) <= now;
  }

  /** Write the presence of every channel held here again (after this node's row had lapsed). */
  async republish(
    conns: readonly { agentsn?: string | undefined; hostname: string; connId: string }[],
    now: number,
  ): Promise<void> {
    if (conns.length === 0) return;
    await this.pool.query(
      `INSERT INTO aspire_cluster_presence (identity, agentsn, hostname, node_id, conn_id, since)
       SELECT identity, agentsn, hostname, $4, conn_id, $5
         FROM unnest($1::text[], $2::text[], $3::text[], $6::text[]) AS x(identity, agentsn, hostname, conn_id)
       ON CONFLICT (identity) DO UPDATE SET agentsn = EXCLUDED.agentsn, hostname = EXCLUDED.hostname,
         node_id = EXCLUDED.node_id, conn_id = EXCLUDED.conn_id, since = EXCLUDED.since`,
      [
        conns.map(presenceIdentity),
        conns.map((c) => c.agentsn ?? null),
        conns.map((c) => c.hostname),
        this.nodeId,
        now,
        conns.map((c) => c.connId),
      ],
    );
  }

  /** Leave on a clean stop: the node's row and its presence go. */
  async leave(): Promise<void> {
    await this.pool.query('DELETE FROM aspire_cluster_presence WHERE node_id = $1', [this.nodeId]);
    await this.pool.query('DELETE FROM aspire_cluster_nodes WHERE node_id = $1', [this.nodeId]);
  }

  async connected(c: { agentsn?: string | undefined; hostname: string; connId: string }, now: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO aspire_cluster_presence (identity, agentsn, hostname, node_id, conn_id, since) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (identity) DO UPDATE SET agentsn = EXCLUDED.agentsn, hostname = EXCLUDED.hostname, node_id = EXCLUDED.node_id,
         conn_id = EXCLUDED.conn_id, since = EXCLUDED.since`,
      [presenceIdentity(c), c.agentsn ?? null, c.hostname, this.nodeId, c.connId, now],
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

  /** Live nodes as their heartbeat rows say (placement: no presence row is read). */
  async liveView(now: number): Promise<NodeLoad[]> {
    const r = await this.pool.query<{
      node_id: string;
      advertise: string;
      agents: string;
      rate: number;
      beat_at: string;
      expires: string;
    }>(
      `SELECT n.node_id, n.advertise, n.agents, n.rate, n.beat_at, n.expires FROM aspire_cluster_nodes n
        WHERE ${LIVE} ORDER BY n.node_id`,
      [now],
    );
    return r.rows.map((x) => {
      const beatAt = Number(x.beat_at);
      return {
        nodeId: x.node_id,
        advertise: x.advertise,
        agents: Number(x.agents),
        rate: Number(x.rate),
        beatAt,
        heartbeatMs: Math.max(0, (Number(x.expires) - beatAt) / MISSED_BEATS),
      };
    });
  }

  /** Live nodes with their presence rows counted now (GET /cluster/nodes). */
  async liveNodes(now: number): Promise<LiveNode[]> {
    const r = await this.pool.query<{ node_id: string; advertise: string; agents: string }>(
      `SELECT n.node_id, n.advertise,
              (SELECT count(*) FROM aspire_cluster_presence p WHERE p.node_id = n.node_id) AS agents
         FROM aspire_cluster_nodes n
        WHERE ${LIVE} ORDER BY n.node_id`,
      [now],
    );
    return r.rows.map((x) => ({ nodeId: x.node_id, advertise: x.advertise, agents: Number(x.agents) }));
  }

  /**
   * The live node holding each host, named by agentsn or hostname (design.md §5 hosts[] entries may
   * be either), in one query: by agentsn first, then the newest channel of that hostname. Hosts
   * held nowhere are absent from the map.
   */
  async locate(hosts: readonly string[], now: number): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (hosts.length === 0) return out;
    const r = await this.pool.query<{ host: string; node_id: string }>(
      `SELECT DISTINCT ON (q.host) q.host, p.node_id
         FROM unnest($2::text[]) AS q(host)
         JOIN aspire_cluster_presence p ON p.identity = 'sn:' || q.host OR p.hostname = q.host
         JOIN aspire_cluster_nodes n ON n.node_id = p.node_id
        WHERE ${LIVE}
        ORDER BY q.host, (p.identity = 'sn:' || q.host) DESC, p.since DESC`,
      [now, [...new Set(hosts)]],
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

  /**
   * Cluster housekeeping (run once per period by the sweep lease): presence of nodes whose row
   * expired, rows of nodes gone for good, unread payloads.
   */
  async prune(now: number, keepLostMs: number): Promise<void> {
    await this.pool.query(
      `DELETE FROM aspire_cluster_presence p
        WHERE NOT EXISTS (SELECT 1 FROM aspire_cluster_nodes n WHERE n.node_id = p.node_id AND n.expires > $1)`,
      [now],
    );
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
