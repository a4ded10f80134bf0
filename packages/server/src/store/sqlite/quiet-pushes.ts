/**
 * The SQLite store's shortcut for quiet status pushes (one writer, so a per-process cache can
 * say the truth): what each host's row holds since its last full write, and the last_seen and
 * uptime of the pushes that only said "still here", written together at most QUIET_FLUSH_MS
 * late. Most pushes of a fleet are those, and they cost a read instead of a write transaction.
 * Which hosts have nothing to hand out is kept too: temporary triggers on subtasks (this
 * connection's own, and it is the only writer) forget a host the moment any of its subtasks is
 * inserted, changed or deleted, so a quiet push of an idle host reads no subtask at all.
 */
import type { HostRow } from '../host-store.ts';
import type { SqliteDb } from './base.ts';
import type { QueueIdle } from './host-jobs.ts';
import { isStorageFull } from '../storage-full.ts';

/** A quiet push's last_seen reaches the database at most this late (or after this many hosts). */
const QUIET_FLUSH_MS = 1000;
const QUIET_FLUSH_MAX = 1000;

/** The SQL function the triggers call with the AgentSN of a subtask written. */
const TOUCHED_FN = 'aspire_subtasks_touched';
const TRIGGERS = ['INSERT', 'UPDATE', 'DELETE']
  .map((op) => {
    const rows = op === 'INSERT' ? ['NEW'] : op === 'DELETE' ? ['OLD'] : ['OLD', 'NEW'];
    const calls = rows.map((r) => `SELECT ${TOUCHED_FN}(${r}.agentsn);`).join(' ');
    return `CREATE TEMP TRIGGER IF NOT EXISTS aspire_subtasks_${op.toLowerCase()} AFTER ${op} ON main.subtasks BEGIN ${calls} END;`;
  })
  .join('\n');

export class QuietPushes {
  /** Fingerprint of what each host's row holds since its last full write. */
  readonly written = new Map<string, string>();
  /**
   * last_seen and uptime of quiet pushes. Each was answered 200, so an entry leaves only once it
   * is written: on a full disk it stays (the newest push of a host replacing the older one),
   * reads and the offline sweep see it, and the first write that succeeds after space returns
   * stores it.
   */
  private readonly seen = new Map<string, { lastSeen: number; uptime: number }>();
  private seenSince = 0;
  /**
   * Hosts whose subtasks hold nothing to hand out, as last read (with their revoked RESERVED
   * ones): valid until a write to their subtasks (the triggers) or until a DELAYED one is due.
   */
  private readonly idle = new Map<string, QueueIdle>();

  constructor(private readonly sql: SqliteDb) {
    sql.db.function(TOUCHED_FN, (agentsn) => {
      // subtasks.agentsn is NOT NULL; anything else: forget every host rather than guess.
      if (typeof agentsn === 'string') this.idle.delete(agentsn);
      else this.idle.clear();
      return null;
    });
    sql.db.exec(TRIGGERS);
  }

  /** What queueIdle answered for the host, if no write to its subtasks happened since and it still holds at now. */
  idleFor(agentsn: string, now: number): QueueIdle | undefined {
    const known = this.idle.get(agentsn);
    return known !== undefined && now < known.until ? known : undefined;
  }

  /**
   * Remember queueIdle's answer. Not while a transaction is open (a batch of pushes not
   * committed yet): a failed COMMIT would roll back writes whose triggers already ran, and an
   * answer read in between would outlive them.
   */
  noteIdle(agentsn: string, idle: QueueIdle): void {
    if (!this.sql.db.isTransaction) this.idle.set(agentsn, idle);
  }

  /** Buffer one quiet push; flush the buffer when it is old or large enough. */
  hold(agentsn: string, now: number, uptime: number): void {
    if (this.seen.size === 0) this.seenSince = now;
    this.seen.set(agentsn, { lastSeen: now, uptime });
    if (now - this.seenSince >= QUIET_FLUSH_MS || this.seen.size >= QUIET_FLUSH_MAX) this.flushIfRoom(now);
  }

  /** A full write of this host committed: its buffered values are superseded. */
  wrote(agentsn: string, fingerprint: string): void {
    this.seen.delete(agentsn);
    this.written.set(agentsn, fingerprint);
  }

  /** The buffered push of a host, if one is not written yet. */
  held(agentsn: string): { lastSeen: number; uptime: number } | undefined {
    return this.seen.get(agentsn);
  }

  /**
   * Write the buffered last_seen/uptime of quiet pushes in one transaction. The buffer is
   * emptied only after the commit (the transaction is synchronous: no push lands in between),
   * so a failed write loses nothing that was answered.
   */
  flush(): void {
    if (this.seen.size === 0) return;
    this.sql.tx(() => {
      for (const [sn, v] of this.seen) {
        this.sql.run(
          'UPDATE hosts SET last_seen = ?, uptime = ? WHERE agentsn = ? AND last_seen < ?',
          v.lastSeen,
          v.uptime,
          sn,
          v.lastSeen,
        );
      }
    });
    this.seen.clear();
  }

  /**
   * flush(), but a full disk is no failure of the caller: the values stay buffered (and are
   * retried QUIET_FLUSH_MS later). False when they could not be written.
   */
  flushIfRoom(now?: number): boolean {
    try {
      this.flush();
      return true;
    } catch (err) {
      if (!isStorageFull(err)) throw err;
      if (now !== undefined) this.seenSince = now;
      return false;
    }
  }

  /** A host row as answered: with its buffered last_seen/uptime when those are not written yet. */
  withSeen(host: HostRow): HostRow {
    const held = this.seen.get(host.agentsn);
    if (held === undefined || (host.last_seen !== null && host.last_seen >= held.lastSeen)) return host;
    return { ...host, last_seen: held.lastSeen, uptime: held.uptime };
  }
}
