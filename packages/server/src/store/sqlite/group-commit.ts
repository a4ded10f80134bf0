/**
 * Group commit on one node:sqlite connection: the writes of the status pushes that arrive in the
 * same turn of the event loop (under load, everything that came in within the last few ms)
 * share one transaction, so a fleet pays one COMMIT per batch instead of one per push. Each push
 * runs in its own SAVEPOINT, so a push that fails undoes only its own writes; its caller's
 * promise settles only after the batch's COMMIT, so a push is answered once its data is stored
 * (or fails with the batch when the COMMIT fails, e.g. a full disk).
 */
import type { DatabaseSync } from 'node:sqlite';

/** A batch is committed early when this many pushes joined it, so no batch grows without bound. */
const MAX_BATCH = 512;

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export class GroupCommit {
  private waiters: Waiter[] | undefined;
  private inside = false;

  constructor(private readonly db: DatabaseSync) {}

  /** True while a batch transaction is open (its COMMIT not run yet). */
  get open(): boolean {
    return this.waiters !== undefined;
  }

  /** True while a push's own work runs (a nested transaction joins it as a savepoint). */
  get running(): boolean {
    return this.inside;
  }

  /** Run fn (synchronous SQL) in the open batch, opening one; resolves after the batch committed. */
  run<T>(fn: () => T): Promise<T> {
    if (!this.waiters) {
      this.db.exec('BEGIN IMMEDIATE');
      this.waiters = [];
      setImmediate(() => this.commit());
    }
    let value: T;
    this.db.exec('SAVEPOINT push');
    this.inside = true;
    try {
      value = fn();
      this.db.exec('RELEASE push');
    } catch (err) {
      this.undo(err);
      return Promise.reject(err);
    } finally {
      this.inside = false;
    }
    const done = new Promise<T>((resolve, reject) => this.waiters?.push({ resolve: () => resolve(value), reject }));
    if (this.waiters.length >= MAX_BATCH) this.commit();
    return done;
  }

  /** COMMIT the open batch now (before any other transaction, and on close). */
  commit(): void {
    const waiters = this.waiters;
    if (!waiters) return;
    this.waiters = undefined;
    try {
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      for (const w of waiters) w.reject(err);
      return;
    }
    for (const w of waiters) w.resolve();
  }

  /** A push failed: undo its savepoint; when SQLite rolled the whole batch back, fail the batch. */
  private undo(err: unknown): void {
    if (this.db.isTransaction) {
      this.db.exec('ROLLBACK TO push');
      this.db.exec('RELEASE push');
      return;
    }
    // Some errors (a full disk, for one) end the whole transaction: the earlier pushes of the
    // batch are not stored either, and are told so.
    const waiters = this.waiters ?? [];
    this.waiters = undefined;
    for (const w of waiters) w.reject(err);
  }
}
