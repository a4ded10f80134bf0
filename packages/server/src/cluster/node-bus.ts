/**
 * Messages between nodes over PostgreSQL LISTEN/NOTIFY (docs/scale.md): each node LISTENs on
 * its own channel on one dedicated connection (whose application_name marks the node as
 * attached: presence.ts reads it to tell a killed node at once). A message is JSON
 * (bus-message.ts). Messages to one node are coalesced: those queued in one turn of the event
 * loop, or while the previous send to that node is under way, leave together, packed into as
 * few notifications as fit (one statement); one over NOTIFY_MAX_BYTES goes into
 * aspire_cluster_payloads and its notification carries its id.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Pool } from 'pg';
import type { Clock, TimerHandle } from '@aspire/agent-core';
import type { Logger } from 'pino';
import { applicationNameOf, channelOf, packMessages, parseBusPayload, type BusMessage } from './bus-message.ts';

export {
  NOTIFY_MAX_BYTES,
  applicationNameOf,
  channelOf,
  parseBusMessage,
  type BusMessage,
  type ForwardedFrame,
} from './bus-message.ts';

interface Queued {
  text: string;
  resolve(): void;
  reject(err: Error): void;
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
  /** Per destination node: messages waiting for the next send. */
  private readonly outbox = new Map<string, Queued[]>();
  /** Destinations with a send under way (what is queued meanwhile leaves with the next). */
  private readonly sending = new Set<string>();

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

  /**
   * Queue one message to a node; resolved once the notification carrying it is sent (rejected
   * if that fails). Messages queued in the same turn leave together.
   */
  send(toNode: string, m: BusMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const q = this.outbox.get(toNode);
      const entry = { text: JSON.stringify(m), resolve, reject };
      if (q) q.push(entry);
      else {
        this.outbox.set(toNode, [entry]);
        if (!this.sending.has(toNode)) setImmediate(() => void this.flush(toNode));
      }
    });
  }

  private async flush(toNode: string): Promise<void> {
    const q = this.outbox.get(toNode);
    if (!q) return;
    this.outbox.delete(toNode);
    this.sending.add(toNode);
    try {
      await this.post(
        toNode,
        q.map((e) => e.text),
      );
      for (const e of q) e.resolve();
    } catch (err) {
      for (const e of q) e.reject(err as Error);
    } finally {
      this.sending.delete(toNode);
      if (this.outbox.has(toNode)) setImmediate(() => void this.flush(toNode));
    }
  }

  /** One statement for all the notifications (after one insert for the payloads too large). */
  private async post(toNode: string, texts: string[]): Promise<void> {
    const { payloads, large } = packMessages(texts);
    if (large.length > 0) {
      const ids = large.map(() => randomUUID());
      await this.deps.pool.query(
        'INSERT INTO aspire_cluster_payloads (id, body, created) SELECT id, body, $3 FROM unnest($1::text[], $2::text[]) AS x(id, body)',
        [ids, large, this.deps.clock.now()],
      );
      for (const id of ids) payloads.push(JSON.stringify({ ref: id }));
    }
    await this.deps.pool.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [channelOf(toNode), payloads]);
  }

  private async onNotification(payload: string): Promise<void> {
    let text = payload;
    try {
      // Only a payload row's reference starts so (JSON.stringify({ref}) in post); others parse once.
      const ref = payload.startsWith('{"ref":') ? (JSON.parse(payload) as { ref?: unknown }).ref : undefined;
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
    const { messages, dropped } = parseBusPayload(text);
    if (dropped > 0) this.deps.logger.warn({ bytes: text.length, dropped }, 'cluster: malformed message dropped');
    for (const m of messages) this.deps.onMessage(m);
  }
}
