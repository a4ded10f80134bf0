// Group commit of status pushes on node:sqlite (store/sqlite/group-commit.ts): pushes in one turn
// of the event loop share one transaction, each is answered only after its COMMIT (a second
// connection sees the rows by then, not before), a failing push undoes only its own writes, a
// failing COMMIT fails every push of the batch, and any other write commits the batch first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCommit } from '../src/store/sqlite/group-commit.ts';
import { SqliteDb } from '../src/store/sqlite/base.ts';

let dir: string;
let db: DatabaseSync;
let other: DatabaseSync;
let statements: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aspire-group-commit-'));
  db = new DatabaseSync(join(dir, 'a.db'));
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
  other = new DatabaseSync(join(dir, 'a.db'));
  statements = [];
  const exec = db.exec.bind(db);
  db.exec = (sql: string) => {
    statements.push(sql);
    exec(sql);
  };
});
afterEach(() => {
  other.close();
  if (db.isOpen) db.close();
  rmSync(dir, { recursive: true, force: true });
});

const insert = (k: string) => () => db.prepare('INSERT INTO t(k) VALUES (?)').run(k);
const seen = () => (other.prepare('SELECT k FROM t ORDER BY k').all() as { k: string }[]).map((r) => r.k);

describe('group commit', () => {
  it('pushes of one turn share one transaction and are answered after its COMMIT', async () => {
    const g = new GroupCommit(db);
    const a = g.run(insert('a'));
    const b = g.run(insert('b'));
    // Written, not committed: another connection does not see them yet.
    expect(seen()).toEqual([]);
    await Promise.all([a, b]);
    expect(seen()).toEqual(['a', 'b']);
    expect(statements.filter((s) => s === 'BEGIN IMMEDIATE')).toHaveLength(1);
    expect(statements.filter((s) => s === 'COMMIT')).toHaveLength(1);
  });

  it('a push that fails undoes only its own writes', async () => {
    const g = new GroupCommit(db);
    const a = g.run(insert('a'));
    const bad = g.run(() => {
      insert('x')();
      insert('a')(); // UNIQUE violation
    });
    const c = g.run(insert('c'));
    await expect(bad).rejects.toThrow(/UNIQUE/);
    await Promise.all([a, c]);
    expect(seen()).toEqual(['a', 'c']);
  });

  it('a COMMIT that fails fails every push of the batch and stores none', async () => {
    const g = new GroupCommit(db);
    const a = g.run(insert('a'));
    const b = g.run(insert('b'));
    const exec = db.exec;
    db.exec = (sql: string) => {
      if (sql === 'COMMIT') throw Object.assign(new Error('database or disk is full'), { errcode: 13 });
      exec(sql);
    };
    await expect(a).rejects.toThrow(/disk is full/);
    await expect(b).rejects.toThrow(/disk is full/);
    db.exec = exec;
    expect(db.isTransaction).toBe(false);
    expect(seen()).toEqual([]);
  });

  it('another transaction or a lone write commits the open batch first', async () => {
    const sql = new SqliteDb(db);
    sql.run('CREATE TABLE IF NOT EXISTS u (k TEXT)');
    const a = sql.grouped(insert('a'));
    sql.tx(() => sql.run('INSERT INTO u(k) VALUES (?)', 'tx'));
    expect(seen()).toEqual(['a']);
    const b = sql.grouped(insert('b'));
    sql.run('INSERT INTO u(k) VALUES (?)', 'lone');
    expect(seen()).toEqual(['a', 'b']);
    await Promise.all([a, b]);
    expect(other.prepare('SELECT count(*) AS n FROM u').get()).toEqual({ n: 2 });
    sql.close();
  });
});
