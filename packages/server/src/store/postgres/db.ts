/**
 * The PostgreSQL plumbing shared by the store's parts: one `pg` pool, `?` placeholders (as in
 * the SQLite parts) turned into `$n`, transactions that carry their client through
 * AsyncLocalStorage (so a part's helper called inside tx() joins it), migrations under an
 * advisory lock, and paging.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { sortColumn, type Sortable } from '../sorting.ts';
import type { Page, Paging } from '../store.ts';
import { PG_MIGRATIONS } from './migrations.ts';
import type { PgConnection } from './connection.ts';

export type Row = Record<string, unknown>;
/** A bound value; an array binds as a PostgreSQL array (unnest in multi-row statements). */
export type Param = string | number | null | readonly (string | number | null)[];

/** int8 (counts, ids, unix ms) and numeric (SUM) as JS numbers: every value we store fits 2^53. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** Key of the advisory lock migrations run under: two nodes starting together apply each once. */
export const MIGRATION_LOCK_KEY = 0x61737069; // "aspi"

/** `?` → `$1, $2, ...`, outside quoted strings and identifiers. */
export function numberPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  let quote: string | null = null;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === '?') out += `$${++n}`;
    else out += ch;
  }
  return out;
}

export class PgDb {
  readonly pool: pg.Pool;
  private readonly txClient = new AsyncLocalStorage<pg.PoolClient>();
  private readonly texts = new Map<string, string>();
  /** Statements run as named prepared statements (parsed once per connection): SQL -> name. */
  private readonly names = new Map<string, string>();

  constructor(conn: PgConnection, poolSize = 10) {
    this.pool = new pg.Pool({ ...conn, max: poolSize, types, application_name: 'aspire' });
    // An idle client losing its connection (database restart) must not end the process: the
    // pool drops it and the next query opens a new one.
    this.pool.on('error', () => undefined);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private text(sql: string): string {
    let t = this.texts.get(sql);
    if (t === undefined) {
      t = numberPlaceholders(sql);
      this.texts.set(sql, t);
    }
    return t;
  }

  /**
   * Mark a constant statement (the hot path of every status push) to run prepared: PostgreSQL
   * parses and plans it once per pooled connection instead of on every call. Only constant
   * texts: each name stays prepared on its connections for their lifetime. Returns sql.
   */
  prepared(sql: string): string {
    if (!this.names.has(sql)) this.names.set(sql, `aspire_${this.names.size + 1}`);
    return sql;
  }

  async query(sql: string, params: Param[]): Promise<pg.QueryResult<Row>> {
    const client = this.txClient.getStore() ?? this.pool;
    const name = this.names.get(sql);
    if (name !== undefined) return client.query<Row>({ name, text: this.text(sql), values: params });
    return client.query<Row>(this.text(sql), params);
  }

  async get<T = Row>(sql: string, ...params: Param[]): Promise<T | undefined> {
    return (await this.query(sql, params)).rows[0] as T | undefined;
  }

  async all<T = Row>(sql: string, ...params: Param[]): Promise<T[]> {
    return (await this.query(sql, params)).rows as T[];
  }

  async run(sql: string, ...params: Param[]): Promise<{ changes: number }> {
    return { changes: (await this.query(sql, params)).rowCount ?? 0 };
  }

  /**
   * One transaction; nested calls join the outer one. A deadlock or serialization failure
   * (another node's transaction took the same rows in another order; PostgreSQL aborted ours)
   * is retried a few times: the work is all in the database, so running it again is safe.
   */
  async tx<T>(fn: () => Promise<T>): Promise<T> {
    if (this.txClient.getStore()) return fn();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.txOnce(fn);
      } catch (err) {
        if (attempt >= TX_ATTEMPTS || !isRetryable(err)) throw err;
      }
    }
  }

  private async txOnce<T>(fn: () => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const v = await this.txClient.run(client, fn);
      await client.query('COMMIT');
      return v;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Apply the missing migrations; the advisory lock makes concurrent starts take turns. */
  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)',
      );
      const done = new Set(
        (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) =>
          Number(r.version),
        ),
      );
      for (const m of PG_MIGRATIONS) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations(version, name, applied) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            Date.now(),
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
      client.release();
    }
  }

  async appliedMigrations(): Promise<number[]> {
    return (await this.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map(
      (r) => r.version,
    );
  }

  /** One page of `select` (+ where), sorted by a whitelisted column, with the total count. */
  async page<T>(
    resource: Sortable,
    select: string,
    where: string[],
    params: Param[],
    paging: Paging,
    map: (r: Row) => T,
  ): Promise<Page<T>> {
    const w = where.length ? ` WHERE ${where.join(' AND ')}` : '';
    const col = sortColumn(resource, paging.sortby);
    const dir = paging.order === 'desc' ? 'DESC' : 'ASC';
    const count = (await this.get<{ n: number }>(`SELECT COUNT(*) AS n FROM (${select}${w}) AS q`, ...params))!.n;
    // NULLS FIRST/LAST as SQLite orders them (NULL smallest), then id for a stable order.
    const nulls = dir === 'ASC' ? 'NULLS FIRST' : 'NULLS LAST';
    const rows = await this.all<Row>(
      `${select}${w} ORDER BY ${col} ${dir} ${nulls} LIMIT ? OFFSET ?`,
      ...params,
      paging.limit,
      paging.offset,
    );
    return { count, offset: paging.offset, limit: paging.limit, items: rows.map(map) };
  }
}

/** A part of the store: the same statements API as the SQLite parts, async, over the shared pool. */
export abstract class PgPart {
  constructor(protected readonly sql: PgDb) {}
  protected get<T = Row>(q: string, ...p: Param[]): Promise<T | undefined> {
    return this.sql.get<T>(q, ...p);
  }
  protected all<T = Row>(q: string, ...p: Param[]): Promise<T[]> {
    return this.sql.all<T>(q, ...p);
  }
  protected run(q: string, ...p: Param[]): Promise<{ changes: number }> {
    return this.sql.run(q, ...p);
  }
  protected tx<T>(fn: () => Promise<T>): Promise<T> {
    return this.sql.tx(fn);
  }
  protected page<T>(
    resource: Sortable,
    select: string,
    where: string[],
    params: Param[],
    paging: Paging,
    map: (r: Row) => T,
  ): Promise<Page<T>> {
    return this.sql.page(resource, select, where, params, paging, map);
  }
}

const TX_ATTEMPTS = 4;

/** deadlock_detected, serialization_failure: PostgreSQL aborted the transaction; it may run again. */
function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** PostgreSQL's unique_violation: a concurrent insert of the same key won. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23505';
}
