/** The events part of the PostgreSQL store (EventStore); a push's own events are written by ./status-ingestion.ts. */
import type { Page, Paging } from '../common.ts';
import type { EventFilter, EventRow, EventStore } from '../event-store.ts';
import { decodeEventRow } from '../row-decoders.ts';
import { PgPart, type Param } from './db.ts';

export class PgEvents extends PgPart implements EventStore {
  async addServerEvent(
    agentsn: string,
    kind: string,
    message: string,
    data: Record<string, unknown>,
    now: number,
  ): Promise<void> {
    // Server events use negative localids (agent events start at 1); -now is unique enough per host.
    await this.run(
      `INSERT INTO events(agentsn, category, localid, occurred, kind, message, data, gmt_create)
       VALUES (?, 0, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      agentsn,
      -now,
      Math.floor(now / 1000),
      kind,
      message,
      JSON.stringify(data),
      now,
    );
  }

  async listEvents(filter: EventFilter, paging: Paging): Promise<Page<EventRow>> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.agentsn) where.push('agentsn = ?'), params.push(filter.agentsn);
    if (filter.since !== undefined) where.push('occurred >= ?'), params.push(filter.since);
    if (filter.until !== undefined) where.push('occurred <= ?'), params.push(filter.until);
    if (filter.kind) where.push('kind = ?'), params.push(filter.kind);
    return this.page('events', 'SELECT * FROM events', where, params, paging, decodeEventRow);
  }

  async pruneEvents(before: number): Promise<number> {
    return (await this.run('DELETE FROM events WHERE gmt_create < ?', before)).changes;
  }
}
