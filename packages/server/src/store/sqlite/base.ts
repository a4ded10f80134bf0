/**
 * The SQLite plumbing shared by the store's parts: one node:sqlite connection (one writer),
 * prepared statements cached by text, transactions, migrations and paging.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { GroupCommit } from './group-commit.ts';
import { MIGRATIONS } from '../migrations.ts';
import { sortColumn, type Sortable } from '../sorting.ts';
import type { Page, Paging } from '../store.ts';

export type Row = Record<string, unknown>;
export type Param = string | number | null;

export class SqliteDb {
  private readonly stmts = new Map<string, StatementSync>();
  /** The status pushes' shared transaction (./group-commit.ts). */
  private readonly batch: GroupCommit;

  constructor(readonly db: DatabaseSync) {
    this.batch = new GroupCommit(db);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA foreign_keys = ON');
    db.exec('PRAGMA busy_timeout = 5000');
    this.migrate();
  }

  close(): void {
    if (this.db.isOpen) this.batch.commit();
    this.stmts.clear();
    if (this.db.isOpen) this.db.close();
  }

  q(sql: string): StatementSync {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  get<T = Row>(sql: string, ...params: Param[]): T | undefined {
    return this.q(sql).get(...params) as T | undefined;
  }

  all<T = Row>(sql: string, ...params: Param[]): T[] {
    return this.q(sql).all(...params) as T[];
  }

  run(sql: string, ...params: Param[]): { changes: number; lastId: number } {
    // A write of its own is stored when run() returns: the open batch is committed first.
    if (this.batch.open && !this.batch.running) this.batch.commit();
    const r = this.q(sql).run(...params);
    return { changes: Number(r.changes), lastId: Number(r.lastInsertRowid) };
  }

  tx<T>(fn: () => T): T {
    // Inside a push of the open batch: part of its savepoint. Otherwise the batch is committed
    // first, so this transaction, and what its caller answers, stands on its own.
    if (this.batch.running) return fn();
    this.batch.commit();
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const v = fn();
      this.db.exec('COMMIT');
      return v;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  /**
   * Run fn in the batch of status pushes (group commit, ./group-commit.ts); resolves once the
   * batch is committed. fn runs at once, so reads after it (same connection) see its writes.
   */
  grouped<T>(fn: () => T): Promise<T> {
    return this.batch.run(fn);
  }

  private migrate(): void {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL)',
    );
    const done = new Set(this.all<{ version: number }>('SELECT version FROM schema_migrations').map((r) => r.version));
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      this.tx(() => {
        this.db.exec(m.sql);
        this.run(
          'INSERT INTO schema_migrations(version, name, applied) VALUES (?, ?, ?)',
          m.version,
          m.name,
          Date.now(),
        );
      });
    }
  }

  appliedMigrations(): number[] {
    return this.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version').map(
      (r) => r.version,
    );
  }

  /** One page of `select` (+ where), sorted by a whitelisted column, with the total count. */
  page<T>(
    resource: Sortable,
    select: string,
    where: string[],
    params: Param[],
    paging: Paging,
    map: (r: Row) => T,
  ): Page<T> {
    const w = where.length ? ` WHERE ${where.join(' AND ')}` : '';
    const col = sortColumn(resource, paging.sortby);
    const dir = paging.order === 'desc' ? 'DESC' : 'ASC';
    const count = this.get<{ n: number }>(`SELECT COUNT(*) AS n FROM (${select}${w})`, ...params)!.n;
    const rows = this.all<Row>(
      `${select}${w} ORDER BY ${col} ${dir} LIMIT ? OFFSET ?`,
      ...params,
      paging.limit,
      paging.offset,
    );
    return { count, offset: paging.offset, limit: paging.limit, items: rows.map(map) };
  }
}

/** A part of the store: the same statements API, over the shared connection. */
export abstract class SqlitePart {
  constructor(protected readonly sql: SqliteDb) {}
  protected get<T = Row>(q: string, ...p: Param[]): T | undefined {
    return this.sql.get<T>(q, ...p);
  }
  protected all<T = Row>(q: string, ...p: Param[]): T[] {
    return this.sql.all<T>(q, ...p);
  }
  protected run(q: string, ...p: Param[]): { changes: number; lastId: number } {
    return this.sql.run(q, ...p);
  }
  protected tx<T>(fn: () => T): T {
    return this.sql.tx(fn);
  }
  protected page<T>(
    resource: Sortable,
    select: string,
    where: string[],
    params: Param[],
    paging: Paging,
    map: (r: Row) => T,
  ): Page<T> {
    return this.sql.page(resource, select, where, params, paging, map);
  }
}
