/**
 * Quiet status pushes on PostgreSQL (a push that only says "still here": same host fields, no
 * results, no events, nothing to hand out). Such a push is decided by one read (./status-ingestion.ts)
 * and its last_seen and uptime are held here, then written for every held host at once in one
 * multi-row UPDATE (unnest) a little later, as the SQLite store does (../sqlite/quiet-pushes.ts).
 *
 * What may be held per node without a cross-node cache: only values this node was told (the
 * push's time and uptime). Whether a push is quiet is read from the database each time, so a
 * subtask or a status written by another node is seen at once. The delay is bounded by the
 * host's step (a tenth of it, at most FLUSH_MS), so another node's offline sweep, which waits
 * step x missed steps, never judges a host by a value held here; this node's own reads and
 * sweep flush first.
 */
import type { PgDb } from './db.ts';

/** A held push reaches the database at most this late (sooner for steps under 10 s). */
export const FLUSH_MS = 1000;
/** More held hosts than this are written at once instead of waiting. */
const FLUSH_MAX = 5000;

interface Held {
  lastSeen: number;
  uptime: number;
}

export class PgQuietPushes {
  private held = new Map<string, Held>();
  private timer: NodeJS.Timeout | undefined;
  /** Wall-clock ms at which the timer fires (Infinity: none set). */
  private dueAt = Number.POSITIVE_INFINITY;
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly sql: PgDb) {}

  /** Hold one quiet push; written within min(FLUSH_MS, step / 10). */
  hold(agentsn: string, lastSeen: number, uptime: number, stepSec: number): void {
    const prev = this.held.get(agentsn);
    if (prev === undefined || prev.lastSeen <= lastSeen) this.held.set(agentsn, { lastSeen, uptime });
    if (this.held.size >= FLUSH_MAX) {
      this.flushSoon(0);
      return;
    }
    this.flushSoon(Math.max(0, Math.min(FLUSH_MS, stepSec * 100)));
  }

  /** A full write of this host committed (last_seen = its push time): what is held is older. */
  wrote(agentsn: string, now: number): void {
    const h = this.held.get(agentsn);
    if (h !== undefined && h.lastSeen <= now) this.held.delete(agentsn);
  }

  get size(): number {
    return this.held.size;
  }

  private flushSoon(delayMs: number): void {
    if (this.closed) return;
    const at = Date.now() + delayMs;
    if (at >= this.dueAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dueAt = Number.POSITIVE_INFINITY;
      // A failure (database away) keeps the values held; the next push or read retries.
      this.flush().catch(() => undefined);
    }, delayMs);
    this.timer.unref();
  }

  /**
   * Write every held push in one statement. The held set is swapped out first (pushes keep
   * arriving meanwhile); on failure its values go back unless a newer push of the host replaced
   * them, so nothing that was answered is lost. Concurrent callers share one write, and a
   * caller that came during a write waits for a second one holding its values.
   */
  async flush(): Promise<void> {
    // Another caller's failed write is theirs to report; its values are held again for this one.
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.held.size === 0) return;
    const batch = this.held;
    this.held = new Map();
    this.flushing = this.write(batch)
      .catch((err) => {
        for (const [sn, v] of batch) {
          const now = this.held.get(sn);
          if (now === undefined || now.lastSeen < v.lastSeen) this.held.set(sn, v);
        }
        this.flushSoon(FLUSH_MS);
        throw err;
      })
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  private async write(batch: Map<string, Held>): Promise<void> {
    // Sorted: two nodes writing overlapping hosts meet them in the same order. tx() retries
    // the rare deadlock PostgreSQL may still report (its join order is its own).
    const sns = [...batch.keys()].sort();
    const seen = sns.map((sn) => batch.get(sn)!.lastSeen);
    const up = sns.map((sn) => batch.get(sn)!.uptime);
    await this.sql.tx(() =>
      this.sql.run(
        this.sql.prepared(`UPDATE hosts h SET last_seen = v.ls, uptime = v.up
           FROM unnest(?::text[], ?::bigint[], ?::bigint[]) AS v(sn, ls, up)
           WHERE h.agentsn = v.sn AND (h.last_seen IS NULL OR h.last_seen < v.ls)`),
        sns,
        seen,
        up,
      ),
    );
  }

  /** Write what is held and stop the timer (the store is closing). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
