/**
 * Status ingestion on SQLite (StatusIngestion): one BootAgent push. A quiet push (same
 * fields, no results, nothing to hand out) has its last_seen and uptime buffered
 * (./quiet-pushes.ts), and its new events, if any, are its only write; any other is one write
 * in the batch of pushes (./group-commit.ts): the host row, its events, then the task queue's
 * side (./host-jobs.ts), which applies the task rules.
 */
import { hash } from 'node:crypto';
import { parseTags } from '../../tasks/state-machine.ts';
import { hostnameRefusal } from '../hostname-claim.ts';
import { HOST_PUSH_UPDATE, hostPushParams } from '../host-push-write.ts';
import type { StatusIngestion, StatusInput, StatusOutcome } from '../status-ingestion.ts';
import type { RevokedReserved } from '../task-store.ts';
import { SqlitePart, type SqliteDb } from './base.ts';
import type { SqliteHostJobs } from './host-jobs.ts';
import type { SqliteHosts } from './hosts.ts';
import type { QuietPushes } from './quiet-pushes.ts';

export class SqliteStatusIngestion extends SqlitePart implements StatusIngestion {
  constructor(
    sql: SqliteDb,
    private readonly quiet: QuietPushes,
    private readonly hosts: SqliteHosts,
    private readonly jobs: SqliteHostJobs,
  ) {
    super(sql);
  }

  async ingestStatus(input: StatusInput): Promise<StatusOutcome> {
    const reportedTags = parseTags(input.tags).join(',');
    // Serialised once: the fingerprint and the stored column use the same text.
    const agentsJson = JSON.stringify(input.agents);
    // One-shot digest of one text (no Hash object): the fields a full write stores, but last_seen and uptime.
    const fp = hash(
      'sha1',
      JSON.stringify([input.hostname, input.ip, input.step, input.os, input.arch, input.version, reportedTags]) +
        agentsJson,
      'base64',
    );
    const revoked = this.quietRevoked(input, fp);
    if (revoked !== undefined) {
      const host = { os: input.os, arch: input.arch };
      if (input.events.length === 0) {
        this.quiet.hold(input.agentsn, input.now, input.uptime);
        return { reserved: [], host, eventsStored: 0, resultsRecorded: 0, revoked };
      }
      // Only new events: they are the write (in the batch); the host row is as for a quiet
      // push, held after the commit so a push that failed leaves nothing held.
      const eventsStored = await this.sql.grouped(() => this.storeEvents(input));
      this.quiet.hold(input.agentsn, input.now, input.uptime);
      return { reserved: [], host, eventsStored, resultsRecorded: 0, revoked };
    }
    // Answered once the batch it joined is committed (group commit, ./group-commit.ts).
    const out = await this.sql.grouped(() => this.writeStatus(input, reportedTags, agentsJson));
    // Only now: had the write failed, the buffered (answered) values of this host stay held.
    this.quiet.wrote(input.agentsn, fp);
    return out;
  }

  /**
   * A quiet push (no job results, host fields as stored, nothing to hand out: the host row
   * changes only in last_seen and uptime; new events are its only write) answers the host's
   * revoked RESERVED subtasks, read with the check (or known idle, see ./quiet-pushes.ts); any
   * other push, undefined.
   */
  private quietRevoked(input: StatusInput, fp: string): RevokedReserved[] | undefined {
    if (input.jobs.length > 0 || input.eventsDropped) return undefined;
    const { agentsn, now } = input;
    if (this.quiet.written.get(agentsn) !== fp) return undefined;
    if (this.jobs.tagTaskToJoin(agentsn, () => this.hostTags(agentsn, input.tags), now)) return undefined;
    const known = this.quiet.idleFor(agentsn, now);
    if (known !== undefined) return known.revoked;
    const idle = this.jobs.queueIdle(agentsn, now);
    if (idle === undefined) return undefined;
    this.quiet.noteIdle(agentsn, idle);
    return idle.revoked;
  }

  /** What a tag task matches: the tags the host reports and those an operator bound to it. */
  private hostTags(agentsn: string, reported: string | undefined): Set<string> {
    return new Set([...parseTags(reported), ...this.hosts.boundTags(agentsn)]);
  }

  /**
   * The hostname a push may store (docs/security.md "Host identity"): its own, unless that is a
   * rename to a hostname another non-deleted host holds; then the old one is kept and a `refused`
   * server event recorded, so a host cannot take another's Polaris name by copying it.
   */
  private pushHostname(input: StatusInput): string {
    const current = this.get<{ hostname: string }>(
      'SELECT hostname FROM hosts WHERE agentsn = ?',
      input.agentsn,
    )?.hostname;
    if (current === undefined || current === input.hostname) return input.hostname;
    const holder = this.get<{ agentsn: string }>(
      `SELECT agentsn FROM hosts WHERE hostname = ? AND agentsn != ? AND status != 'deleted' LIMIT 1`,
      input.hostname,
      input.agentsn,
    )?.agentsn;
    if (holder === undefined) return input.hostname;
    const r = hostnameRefusal(input, current, holder);
    this.run(
      `INSERT OR IGNORE INTO events(agentsn, category, localid, occurred, kind, message, data, gmt_create) VALUES (?, 0, ?, ?, 'refused', ?, ?, ?)`,
      input.agentsn,
      -input.now,
      Math.floor(input.now / 1000),
      r.message,
      JSON.stringify(r.data),
      input.now,
    );
    return current;
  }

  /** The full write of one push; runs inside the batch's transaction (see ingestStatus). */
  private writeStatus(input: StatusInput, reportedTags: string, agentsJson: string): StatusOutcome {
    const now = input.now;
    const hostname = this.pushHostname(input);
    this.run(HOST_PUSH_UPDATE, ...hostPushParams(input, hostname, reportedTags, agentsJson));
    const eventsStored = this.storeEvents(input);
    const { reserved, resultsRecorded } = this.jobs.forPush(
      input.agentsn,
      input.jobs,
      () => this.hostTags(input.agentsn, reportedTags),
      now,
    );
    return { reserved, host: { os: input.os, arch: input.arch }, eventsStored, resultsRecorded };
  }

  /** The push's events, and the count of those its BootAgent dropped; returns how many rows were new. */
  private storeEvents(input: StatusInput): number {
    const now = input.now;
    let eventsStored = 0;
    for (const e of input.events) {
      eventsStored += this.run(
        `INSERT OR IGNORE INTO events(agentsn, category, localid, occurred, kind, agent, message, data, gmt_create)
         VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?)`,
        input.agentsn,
        e.localid,
        e.occurred,
        e.kind,
        e.agent ?? null,
        e.message,
        e.data === undefined ? null : JSON.stringify(e.data),
        now,
      ).changes;
    }
    if (!input.eventsDropped) return eventsStored;
    // The agent's bounded queue overflowed: count it on the host and keep the fact as a
    // server-side event (category 0). Agent events have localid >= 1, so the negated running
    // total is a localid no agent event can take, and unique for every such push of the host.
    const total = this.get<{ events_dropped: number }>(
      'UPDATE hosts SET events_dropped = events_dropped + ?, events_dropped_at = ? WHERE agentsn = ? RETURNING events_dropped',
      input.eventsDropped,
      now,
      input.agentsn,
    )?.events_dropped;
    if (total === undefined) return eventsStored;
    return (
      eventsStored +
      this.run(
        `INSERT OR IGNORE INTO events(agentsn, category, localid, occurred, kind, message, data, gmt_create)
         VALUES (?, 0, ?, ?, 'events_dropped', ?, ?, ?)`,
        input.agentsn,
        -total,
        Math.floor(now / 1000),
        `agent dropped ${input.eventsDropped} events (queue full); ${total} in total`,
        JSON.stringify({ dropped: input.eventsDropped, total }),
        now,
      ).changes
    );
  }
}
