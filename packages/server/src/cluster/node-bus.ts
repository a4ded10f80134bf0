/**
 * Messages between nodes over PostgreSQL LISTEN/NOTIFY (docs/scale.md): each node LISTENs on
 * its own channel on one dedicated connection (whose application_name marks the node as
 * attached: presence.ts reads it to tell a killed node at once). A message is JSON; one over
 * NOTIFY_MAX_BYTES goes into aspire_cluster_payloads and the notification carries its id.
 * Messages are validated once here, into typed values; anything else is logged and dropped.
 */
import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Pool } from 'pg';
import type { Clock, TimerHandle } from '@aspire/agent-core';
import type { Logger } from 'pino';
import { replyFrame, type ReplyFrame } from '@aspire/protocol';

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; keep a margin for the envelope. */
export const NOTIFY_MAX_BYTES = 7900;

export type ForwardedFrame = Record<string, unknown> & { id: string; method: string };

/** One request for the hosts a node holds (a fan-out sends one per node), one reply per host. */
export type BusMessage =
  | { t: 'req'; rid: string; from: string; hosts: string[]; frame: ForwardedFrame; deadlineMs: number }
  | { t: 'rep'; rid: string; host: string; reply: ReplyFrame };

export function channelOf(nodeId: string): string {
  return `aspire_node_${createHash('sha256').update(nodeId).digest('hex').slice(0, 24)}`;
}

export function applicationNameOf(nodeId: string): string {
  return `aspire-node:${nodeId}`;
}

/** Parse and check one message (what another node sent is still input). */
export function parseBusMessage(text: string): BusMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object') return undefined;
  const m = v as Record<string, unknown>;
  if (typeof m.rid !== 'string' || m.rid.length > 100) return undefined;
  if (m.t === 'req') {
    const f = m.frame as Record<string, unknown> | undefined;
    if (
      typeof m.from !== 'string' ||
      typeof m.deadlineMs !== 'number' ||
      !Number.isFinite(m.deadlineMs) ||
      m.deadlineMs <= 0
    )
      return undefined;
    if (!Array.isArray(m.hosts) || m.hosts.length === 0 || !m.hosts.every((h) => typeof h === 'string'))
      return undefined;
    if (!f || typeof f !== 'object' || typeof f.id !== 'string' || typeof f.method !== 'string') return undefined;
    return {
      t: 'req',
      rid: m.rid,
      from: m.from,
      hosts: m.hosts as string[],
      frame: f as ForwardedFrame,
      deadlineMs: m.deadlineMs,
    };
  }
  if (m.t === 'rep') {
    if (typeof m.host !== 'string') return undefined;
    const r = replyFrame.validate(m.reply);
    return r.ok ? { t: 'rep', rid: m.rid, host: m.host, reply: r.value } : undefined;
  }
  return undefined;
}

/**
 * Where the cluster's PostgreSQL is: a URL (config cluster.url/urlFile) or the store's own
 * connection settings (password from its file or the environment). Never logged.
 */
export type ClusterDb =
  | { connectionString: string }
  | { host: string; port: number; database: string; user: string; password?: string };

export interface NodeBusDeps {
  db: ClusterDb;
  pool: Pool;
  nodeId: string;
  clock: Clock;
  logger: Logger;
  onMessage(m: BusMessage): void;
}

export class NodeBus {
  private listener: pg.Client | undefined;
  private stopped = false;
  private retry: TimerHandle | undefined;

  constructor(private readonly deps: NodeBusDeps) {}

  /** Connect and LISTEN; a lost listener connection is made again (1 s apart) until stop(). */
  async start(): Promise<void> {
    const client = new pg.Client({ ...this.deps.db, application_name: applicationNameOf(this.deps.nodeId) });
    client.on('error', (err) => this.deps.logger.warn({ err: err.message }, 'cluster: listener connection error'));
    client.on('end', () => {
      if (this.stopped || this.listener !== client) return;
      this.listener = undefined;
      this.deps.logger.warn('cluster: listener connection lost; connecting again');
      this.again();
    });
    client.on('notification', (n) => void this.onNotification(n.payload ?? ''));
    await client.connect();
    await client.query(`LISTEN ${channelOf(this.deps.nodeId)}`);
    this.listener = client;
  }

  private again(): void {
    this.retry = this.deps.clock.setTimeout(() => {
      if (this.stopped) return;
      this.start().catch((err: unknown) => {
        this.deps.logger.warn({ err: (err as Error).message }, 'cluster: listener reconnect failed');
        this.again();
      });
    }, 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.retry?.cancel();
    await this.listener?.end().catch(() => {});
    this.listener = undefined;
  }

  /** Send one message to a node (by a payload row when too large for NOTIFY). */
  async send(toNode: string, m: BusMessage): Promise<void> {
    let text = JSON.stringify(m);
    if (Buffer.byteLength(text) > NOTIFY_MAX_BYTES) {
      const id = randomUUID();
      await this.deps.pool.query('INSERT INTO aspire_cluster_payloads (id, body, created) VALUES ($1, $2, $3)', [
        id,
        text,
        this.deps.clock.now(),
      ]);
      text = JSON.stringify({ ref: id });
    }
    await this.deps.pool.query('SELECT pg_notify($1, $2)', [channelOf(toNode), text]);
  }

  private async onNotification(payload: string): Promise<void> {
    let text = payload;
    try {
      const ref = (JSON.parse(payload) as { ref?: unknown }).ref;
      if (typeof ref === 'string') {
        const r = await this.deps.pool.query<{ body: string }>(
          'DELETE FROM aspire_cluster_payloads WHERE id = $1 RETURNING body',
          [ref],
        );
        text = r.rows[0]?.body ?? '';
      }
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'cluster: cannot read a message');
      return;
    }
    const m = parseBusMessage(text);
    if (!m) {
      this.deps.logger.warn({ bytes: text.length }, 'cluster: malformed message dropped');
      return;
    }
    this.deps.onMessage(m);
  }
}
