/**
 * The cluster layer's tables in the shared PostgreSQL (docs/scale.md "What each engine holds").
 * Created at start under a transaction-scoped advisory lock, so nodes starting together do not
 * race; `IF NOT EXISTS` makes it idempotent. Times are epoch milliseconds of the nodes' clocks.
 */
import type { Pool } from 'pg';

export const CLUSTER_SCHEMA_LOCK = 'aspire_cluster_schema';

const DDL = [
  // One row per node, renewed every heartbeat: liveness, and its agent count and net rate
  // (agents per second over its last heartbeat) for the other nodes' placement.
  `CREATE TABLE IF NOT EXISTS aspire_cluster_nodes (
     node_id   text PRIMARY KEY,
     advertise text NOT NULL,
     started   bigint NOT NULL,
     expires   bigint NOT NULL,
     agents    bigint NOT NULL DEFAULT 0,
     rate      double precision NOT NULL DEFAULT 0,
     beat_at   bigint NOT NULL DEFAULT 0)`,
  // One row per connected BasicAgent, written when its channel opens and closes: which node
  // holds it (live while that node is), since when.
  `CREATE TABLE IF NOT EXISTS aspire_cluster_presence (
     identity  text PRIMARY KEY,
     agentsn   text,
     hostname  text NOT NULL,
     node_id   text NOT NULL,
     conn_id   text NOT NULL,
     since     bigint NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS aspire_cluster_presence_hostname ON aspire_cluster_presence (hostname)`,
  `CREATE INDEX IF NOT EXISTS aspire_cluster_presence_node ON aspire_cluster_presence (node_id)`,
  // NOTIFY payloads are limited to 8000 bytes: larger requests and replies travel by a row.
  `CREATE TABLE IF NOT EXISTS aspire_cluster_payloads (
     id      text PRIMARY KEY,
     body    text NOT NULL,
     created bigint NOT NULL)`,
  // Periodic sweeps: whoever moves next_due forward runs this period's pass (runs: passes so far).
  `CREATE TABLE IF NOT EXISTS aspire_cluster_sweeps (
     name     text PRIMARY KEY,
     node_id  text NOT NULL,
     next_due bigint NOT NULL,
     runs     bigint NOT NULL DEFAULT 0)`,
];

/**
 * Tables made by an earlier release, where every presence row carried its own expiry renewed
 * each heartbeat: liveness moved to the node row. Run only when that column is still there
 * (an ALTER takes an exclusive lock, even when it changes nothing).
 */
const UPGRADE_PRESENCE_EXPIRY = [
  `ALTER TABLE aspire_cluster_nodes ADD COLUMN IF NOT EXISTS agents bigint NOT NULL DEFAULT 0,
     ADD COLUMN IF NOT EXISTS rate double precision NOT NULL DEFAULT 0,
     ADD COLUMN IF NOT EXISTS beat_at bigint NOT NULL DEFAULT 0`,
  `ALTER TABLE aspire_cluster_presence ADD COLUMN IF NOT EXISTS since bigint NOT NULL DEFAULT 0`,
  `ALTER TABLE aspire_cluster_presence DROP COLUMN IF EXISTS expires`,
];

export async function ensureClusterSchema(pool: Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [CLUSTER_SCHEMA_LOCK]);
    for (const sql of DDL) await client.query(sql);
    const old = await client.query(
      `SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'aspire_cluster_presence' AND column_name = 'expires'`,
    );
    if ((old.rowCount ?? 0) > 0) for (const sql of UPGRADE_PRESENCE_EXPIRY) await client.query(sql);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
