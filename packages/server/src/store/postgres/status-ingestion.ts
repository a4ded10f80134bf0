/**
 * Status ingestion on PostgreSQL (StatusIngestion): one BootAgent push. A push without results
 * or events is decided by one read (./host-snapshot.ts), usually the one its credential check
 * ran a moment before (PgHosts.credentialHash keeps it): when its host fields match the stored
 * row and nothing waits for the host, it is quiet, and its last_seen and uptime are held
 * (./quiet-pushes.ts) and written with the other held hosts' in one statement a moment later.
 * When only host fields changed (nothing to hand out, same hostname), the row is written by one
 * UPDATE (a statement is a transaction of its own). Any other push is one transaction: the host
 * row, its events, then the task queue's side (./host-jobs.ts), which applies the task rules.
 * Nothing is answered from a cache of what another node may change: every decision is read
 * from the database during the push.
 */
import { parseTags, tagsMatch } from '../../tasks/state-machine.ts';
import { hostnameRefusal } from '../hostname-claim.ts';
import { HOST_PUSH_UPDATE, hostPushParams } from '../host-push-write.ts';
import type { StatusIngestion, StatusInput, StatusOutcome } from '../status-ingestion.ts';
import { PgPart, type PgDb } from './db.ts';
import type { PgHostJobs } from './host-jobs.ts';
import { hasDue, type HostSnapshot, openUnjoined, readHostSnapshot, samePush } from './host-snapshot.ts';
import type { PgHosts } from './hosts.ts';
import type { PgQuietPushes } from './quiet-pushes.ts';
import type { ReadAhead } from './read-ahead.ts';

export class PgStatusIngestion extends PgPart implements StatusIngestion {
  constructor(
    sql: PgDb,
    private readonly hosts: PgHosts,
    private readonly jobs: PgHostJobs,
    private readonly quiet: PgQuietPushes,
    /** "Nothing revoked for this host", for the same push's revokedReserved(). */
    private readonly noRevoked: ReadAhead<true>,
  ) {
    super(sql);
  }

  async ingestStatus(input: StatusInput): Promise<StatusOutcome> {
    const reportedTags = parseTags(input.tags).join(',');
    // Serialised once: compared with the stored column and written as it.
    const agentsJson = JSON.stringify(input.agents);
    const host = { os: input.os, arch: input.arch };
    // Only this push's own read may answer its revocation read.
    this.noRevoked.drop(input.agentsn);
    const snap = this.hosts.snapshots.take(input.agentsn);
    if (input.jobs.length === 0 && input.events.length === 0 && !input.eventsDropped) {
      const s = snap ?? (await readHostSnapshot(this.sql, input.agentsn));
      if (s !== undefined && !hasDue(s, input.now) && !(await this.joinsTagTask(s, input, reportedTags))) {
        if (!s.revoked) this.noRevoked.keep(input.agentsn, true);
        if (samePush(s, input, reportedTags, agentsJson)) {
          this.quiet.hold(input.agentsn, input.now, input.uptime, input.step);
          return { reserved: [], host, eventsStored: 0, resultsRecorded: 0 };
        }
        // Only host fields changed: one UPDATE, guarded by the hostname just read (a rename
        // takes the full path, which checks the new name is free).
        if (
          s.hostname === input.hostname &&
          (await this.writeHost(input, s.hostname, reportedTags, agentsJson, true)) > 0
        ) {
          this.quiet.wrote(input.agentsn, input.now);
          return { reserved: [], host, eventsStored: 0, resultsRecorded: 0 };
        }
      }
    }
    const out = await this.tx(async () => {
      const now = input.now;
      await this.writeHost(input, await this.pushHostname(input), reportedTags, agentsJson, false);
      const eventsStored = await this.storeEvents(input);
      const { reserved, resultsRecorded } = await this.jobs.forPush(
        input.agentsn,
        input.jobs,
        async () => new Set([...parseTags(reportedTags), ...(await this.hosts.boundTags(input.agentsn))]),
        now,
      );
      return { reserved, host, eventsStored, resultsRecorded };
    });
    this.quiet.wrote(input.agentsn, input.now);
    return out;
  }

  /** Whether an open tag task the host is not in yet matches its tags (reported and bound). */
  private async joinsTagTask(s: HostSnapshot, input: StatusInput, reportedTags: string): Promise<boolean> {
    const open = openUnjoined(s, input.now);
    if (open.length === 0) return false;
    const tags = new Set([...parseTags(reportedTags), ...(await this.hosts.boundTags(input.agentsn))]);
    return open.some((selector) => tagsMatch(selector, tags));
  }

  /**
   * The host row as the push reports it, stored under `hostname`; with `guarded`, only while the
   * stored hostname is still that one. Returns the rows changed.
   */
  private async writeHost(
    input: StatusInput,
    hostname: string,
    reportedTags: string,
    agentsJson: string,
    guarded: boolean,
  ): Promise<number> {
    const { changes } = await this.run(
      this.sql.prepared(guarded ? `${HOST_PUSH_UPDATE} AND hostname = ?` : HOST_PUSH_UPDATE),
      ...hostPushParams(input, hostname, reportedTags, agentsJson),
      ...(guarded ? [hostname] : []),
    );
    return changes;
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
