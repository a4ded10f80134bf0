/**
 * `aspire migrate`: copy a single-node deployment (the SQLite database of a data dir) into an
 * empty PostgreSQL database, keeping every id, in one transaction that commits only when each
 * table's row count matches. Package files stay files: with `--data-dir` they are copied (and
 * their SHA-256 checked) into the directory the nodes share (docs/scale.md "Package files"),
 * together with the signing key and host CA the agents already trust.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { openSqliteStore } from '../sqlite-store.ts';
import type { PgConnection } from './connection.ts';
import { PgDb } from './db.ts';

/** Tables in copy order (parents before children); meta is merged, not counted as data. */
export const COPIED_TABLES = [
  'regions',
  'hosts',
  'tags',
  'hosts_tags',
  'events',
  'packages',
  'tasks',
  'subtasks',
  'tokens',
  'task_results',
  'audit',
  'tree_nodes',
  'host_components',
  'policies',
] as const;

/** Tables handled apart: meta is merged; each side keeps its own schema_migrations. */
const NOT_COPIED = ['meta', 'schema_migrations'];

/** Tables that must be empty in the target (regions holds its built-in row 0). */
const MUST_BE_EMPTY = COPIED_TABLES.filter((t) => t !== 'regions');

/** Insert order within a table: ids, or SQLite's rowid for subtasks (their insert order). */
const ORDER: Record<string, string> = {
  hosts_tags: 'hostid, tagid',
  subtasks: 'rowid',
  // A node may have been moved under a younger parent: parents first by kind, not by id.
  tree_nodes: "CASE kind WHEN 'product' THEN 0 WHEN 'service' THEN 1 ELSE 2 END, id",
  host_components: 'agentsn',
  policies: 'scope',
};

/** Tables keyed by something else than an identity column (no sequence to move on). */
const NO_IDENTITY = new Set(['hosts_tags', 'subtasks', 'host_components', 'policies']);

export interface CopyCount {
  table: string;
  source: number;
  target: number;
}

export interface CopyReport {
  counts: CopyCount[];
  /** Package files copied into the shared data dir (with --data-dir). */
  files: number;
  /** Other data-dir files copied (signing key, host CA). */
  copiedTrust: string[];
}

export class MigrateRefused extends Error {}

const ROWS_PER_INSERT = 500;
const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function copySqliteToPostgres(opts: {
  fromDataDir: string;
  to: PgConnection;
  toDataDir?: string;
  dbFile: string;
}): Promise<CopyReport> {
  const file = join(opts.fromDataDir, opts.dbFile);
  if (!existsSync(file)) throw new MigrateRefused(`no database at ${file}`);
  // Bring the source to the current schema first (what the server itself does at start).
  openSqliteStore(file).close();
  const src = new DatabaseSync(file, { readOnly: true });
  // A table this copy does not know (a newer migration) would be left behind: refuse instead.
  const unknown = (
    src.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as {
      name: string;
    }[]
  )
    .map((r) => r.name)
    .filter((n) => !(COPIED_TABLES as readonly string[]).includes(n) && !NOT_COPIED.includes(n));
  if (unknown.length) {
    src.close();
    throw new Error(`the SQLite database has tables aspire migrate does not copy: ${unknown.join(', ')}`);
  }
  const db = new PgDb(opts.to, 2);
  try {
    await db.migrate();
    const counts = await db.tx(async () => {
      for (const t of MUST_BE_EMPTY) {
        const n = (await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${q(t)}`))!.n;
        if (n > 0)
          throw new MigrateRefused(
            `the target database is not empty (${t}: ${n} rows); migrate copies into a new database only`,
          );
      }
      for (const r of src.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]) {
        // The package-link secret and the like: links signed before the move stay valid.
        await db.run(
          'INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
          r.key,
          r.value,
        );
      }
      const counts: CopyCount[] = [];
      for (const table of COPIED_TABLES) {
        await copyTable(src, db, table);
        const source = (src.prepare(`SELECT COUNT(*) AS n FROM ${q(table)}`).get() as { n: number }).n;
        const target = (await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${q(table)}`))!.n;
        counts.push({ table, source, target });
      }
      const wrong = counts.filter((c) => c.source !== c.target);
      if (wrong.length)
        throw new Error(
          `counts differ after the copy (nothing committed): ${wrong.map((c) => `${c.table} ${c.source} -> ${c.target}`).join(', ')}`,
        );
      for (const table of COPIED_TABLES) {
        // Identity columns continue after the copied ids (hosts_tags has none; subtasks' id is a
        // UUID and its seq was generated by the inserts).
        if (NO_IDENTITY.has(table)) continue;
        await db.run(
          `SELECT setval(pg_get_serial_sequence('${table}', 'id'), (SELECT COALESCE(MAX(id), 0) FROM ${q(table)}) + 1, false)`,
        );
      }
      return counts;
    });
    const report: CopyReport = { counts, files: 0, copiedTrust: [] };
    if (opts.toDataDir !== undefined) copyDataDirFiles(src, opts.fromDataDir, opts.toDataDir, report);
    return report;
  } finally {
    src.close();
    await db.close();
  }
}

async function copyTable(src: DatabaseSync, db: PgDb, table: string): Promise<void> {
  const srcCols = (src.prepare(`PRAGMA table_info(${q(table)})`).all() as { name: string }[]).map((c) => c.name);
  const pgCols = new Set(
    (
      await db.all<{ column_name: string }>(
        'SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?',
        table,
      )
    ).map((r) => r.column_name),
  );
  const missing = srcCols.filter((c) => !pgCols.has(c));
  // A SQLite column without a PostgreSQL twin is a missing migration: copy nothing rather than lose it.
  if (missing.length)
    throw new Error(
      `table ${table}: PostgreSQL has no column ${missing.join(', ')} (a migration is missing its PostgreSQL twin)`,
    );
  const where = table === 'regions' ? ' WHERE id != 0' : '';
  const order = ORDER[table] ?? 'id';
  const stmt = src.prepare(`SELECT ${srcCols.map(q).join(', ')} FROM ${q(table)}${where} ORDER BY ${order}`);
  let batch: unknown[][] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const params: (string | number | null)[] = [];
    const tuples = batch.map((row) => {
      params.push(...(row as (string | number | null)[]));
      return `(${row.map(() => '?').join(', ')})`;
    });
    await db.run(`INSERT INTO ${q(table)} (${srcCols.map(q).join(', ')}) VALUES ${tuples.join(', ')}`, ...params);
    batch = [];
  };
  for (const row of stmt.iterate() as Iterable<Record<string, unknown>>) {
    batch.push(srcCols.map((c) => toParam(row[c])));
    if (batch.length >= ROWS_PER_INSERT) await flush();
  }
  await flush();
}

function toParam(v: unknown): string | number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  throw new Error(`unexpected SQLite value of type ${typeof v}`);
}

/** Package files (checked against their SHA-256), the signing key and the host CA. */
function copyDataDirFiles(src: DatabaseSync, from: string, to: string, report: CopyReport): void {
  for (const p of src.prepare('SELECT path, sha256 FROM packages ORDER BY id').all() as {
    path: string;
    sha256: string;
  }[]) {
    const source = join(from, p.path);
    const target = join(to, p.path);
    if (!existsSync(source)) throw new Error(`package file ${p.path} is missing in ${from}`);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(source, target);
    const sum = createHash('sha256').update(readFileSync(target)).digest('hex');
    if (sum !== p.sha256) throw new Error(`package file ${p.path}: SHA-256 of the copy differs from the database`);
    report.files++;
  }
  for (const name of ['signing-key.pem', 'host-ca']) {
    const source = join(from, name);
    if (!existsSync(source) || existsSync(join(to, name))) continue;
    cpSync(source, join(to, name), { recursive: true, preserveTimestamps: true });
    report.copiedTrust.push(name);
  }
}
