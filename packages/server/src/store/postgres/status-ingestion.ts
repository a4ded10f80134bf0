/**
 * Status ingestion on PostgreSQL (StatusIngestion): one BootAgent push is one transaction: the
 * host row, its events, then the task queue's side (./host-jobs.ts), which applies the task
 * rules. No quiet-push shortcut here: another node may change what a per-process cache holds.
 */
import { parseTags } from '../../tasks/state-machine.ts';
import { hostnameRefusal } from '../hostname-claim.ts';
import type { StatusIngestion, StatusInput, StatusOutcome } from '../status-ingestion.ts';
import { PgPart, type PgDb } from './db.ts';
import type { PgHostJobs } from './host-jobs.ts';
import type { PgHosts } from './hosts.ts';

export class PgStatusIngestion extends PgPart implements StatusIngestion {
  constructor(
    sql: PgDb,
    private readonly hosts: PgHosts,
    private readonly jobs: PgHostJobs,
  ) {
    super(sql);
  }

  async ingestStatus(input: StatusInput): Promise<StatusOutcome> {
    const reportedTags = parseTags(input.tags).join(',');
    return this.tx(async () => {
      const now = input.now;
      const hostname = await this.pushHostname(input);
      await this.run(
        this.sql.prepared(`UPDATE hosts SET hostname = ?, ipaddr = ?, step = ?, os = ?, arch = ?,
           prevers = CASE WHEN curvers IS NOT NULL AND curvers != ? THEN curvers ELSE prevers END,
           curvers = ?, uptime = ?, agents = ?, reported_tags = ?, last_seen = ?,
           gmt_modify = CASE WHEN status != 'online' THEN ? ELSE gmt_modify END, status = 'online'
         WHERE agentsn = ?`),
        hostname,
        input.ip,
        input.step,
        input.os,
        input.arch,
        input.version,
        input.version,
        input.uptime,
        JSON.stringify(input.agents),
        reportedTags,
        now,
        now,
        input.agentsn,
      );
      const eventsStored = await this.storeEvents(input);
      const { reserved, resultsRecorded } = await this.jobs.forPush(
        input.agentsn,
        input.jobs,
        async () => new Set([...parseTags(reportedTags), ...(await this.hosts.boundTags(input.agentsn))]),
        now,
      );
      return { reserved, host: { os: input.os, arch: input.arch }, eventsStored, resultsRecorded };
    });
  }

  /**
   * The hostname a push may store (docs/security.md "Host identity"): its own, unless that is a
   * rename to a hostname another non-deleted host holds; then the old one is kept and a `refused`
   * server event recorded, so a host cannot take another's Polaris name by copying it.
   */
  private async pushHostname(input: StatusInput): Promise<string> {
    const current = (
      await this.get<{ hostname: string }>(
        this.sql.prepared('SELECT hostname FROM hosts WHERE agentsn = ?'),
        input.agentsn,
      )
    )?.hostname;
    if (current === undefined || current === input.hostname) return input.hostname;
    const holder = (
      await this.get<{ agentsn: string }>(
        `SELECT agentsn FROM hosts WHERE hostname = ? AND agentsn != ? AND status != 'deleted' LIMIT 1`,
        input.hostname,
        input.agentsn,
      )
    )?.agentsn;
    if (holder === undefined) return input.hostname;
    const r = hostnameRefusal(input, current, holder);
    await this.run(
      `INSERT INTO events(agentsn, category, localid, occurred, kind, message, data, gmt_create) VALUES (?, 0, ?, ?, 'refused', ?, ?, ?) ON CONFLICT DO NOTHING`,
      input.agentsn,
      -input.now,
      Math.floor(input.now / 1000),
      r.message,
      JSON.stringify(r.data),
      input.now,
    );
    return current;
  }

  /** The push's events, and the count of those its BootAgent dropped; returns how many rows were new. */
  private async storeEvents(input: StatusInput): Promise<number> {
    const now = input.now;
    let eventsStored = 0;
    for (const e of input.events) {
      eventsStored += (
        await this.run(
          this.sql.prepared(`INSERT INTO events(agentsn, category, localid, occurred, kind, agent, message, data, gmt_create)
           VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
          input.agentsn,
          e.localid,
          e.occurred,
          e.kind,
          e.agent ?? null,
          e.message,
          e.data === undefined ? null : JSON.stringify(e.data),
          now,
        )
      ).changes;
    }
    if (!input.eventsDropped) return eventsStored;
    // As on SQLite: counted on the host, kept as a server event whose localid is the negated total.
    const total = (
      await this.get<{ events_dropped: number }>(
        'UPDATE hosts SET events_dropped = events_dropped + ?, events_dropped_at = ? WHERE agentsn = ? RETURNING events_dropped',
        input.eventsDropped,
        now,
        input.agentsn,
      )
    )?.events_dropped;
    if (total === undefined) return eventsStored;
    const { changes } = await this.run(
      `INSERT INTO events(agentsn, category, localid, occurred, kind, message, data, gmt_create)
       VALUES (?, 0, ?, ?, 'events_dropped', ?, ?, ?) ON CONFLICT DO NOTHING`,
      input.agentsn,
      -total,
      Math.floor(now / 1000),
      `agent dropped ${input.eventsDropped} events (queue full); ${total} in total`,
      JSON.stringify({ dropped: input.eventsDropped, total }),
      now,
    );
    return eventsStored + changes;
  }
}
