/**
 * Periodic-task results the agents push (task.result frames), kept in the hub's own SQLite
 * file beside the server's database (hub.sqlite in the data dir). A separate file keeps the
 * hub's write traffic off the main database's lock; it holds nothing the main schema refers to.
 * Filed by hostname with the AgentSN beside it; retention: the newest `keep` rows per (host, task).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { TaskResultFrame } from '@aspire/protocol';

export interface StoredTaskResult {
  host: string;
  agentsn: string | null;
  name: string;
  started: number;
  started_ms: number | null;
  duration_ms: number;
  retcode: number;
  errcode: number | null;
  message: string | null;
  output: string;
  truncated: boolean;
  skipped: boolean;
  received: number;
}

export interface TaskResultStore {
  add(host: string, agentsn: string | undefined, r: TaskResultFrame, now: number): void;
  list(filter: { host: string; name?: string; limit: number }): StoredTaskResult[];
  close(): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS task_results (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  host TEXT NOT NULL,
  agentsn TEXT,
  name TEXT NOT NULL,
  started INTEGER NOT NULL,
  started_ms INTEGER,
  duration_ms INTEGER NOT NULL,
  retcode INTEGER NOT NULL,
  errcode INTEGER,
  message TEXT,
  output TEXT NOT NULL,
  truncated INTEGER NOT NULL,
  skipped INTEGER NOT NULL,
  received INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS task_results_host_name ON task_results (host, name, id);
CREATE INDEX IF NOT EXISTS task_results_agentsn_name ON task_results (agentsn, name, id);
`;

export function openTaskResultStore(path: string, keep: number): TaskResultStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec(SCHEMA);
  const insert = db.prepare(
    `INSERT INTO task_results (host, agentsn, name, started, started_ms, duration_ms, retcode, errcode, message, output, truncated, skipped, received)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const prune = db.prepare(
    `DELETE FROM task_results WHERE host = ? AND name = ? AND id NOT IN
       (SELECT id FROM task_results WHERE host = ? AND name = ? ORDER BY id DESC LIMIT ?)`,
  );
  // A host is asked for by hostname or AgentSN, connected or not.
  const byHost = db.prepare('SELECT * FROM task_results WHERE host = ? OR agentsn = ? ORDER BY id DESC LIMIT ?');
  const byHostName = db.prepare('SELECT * FROM task_results WHERE (host = ? OR agentsn = ?) AND name = ? ORDER BY id DESC LIMIT ?');
  const row = (r: Record<string, unknown>): StoredTaskResult => ({
    host: r.host as string,
    agentsn: (r.agentsn as string | null) ?? null,
    name: r.name as string,
    started: Number(r.started),
    started_ms: r.started_ms === null ? null : Number(r.started_ms),
    duration_ms: Number(r.duration_ms),
    retcode: Number(r.retcode),
    errcode: r.errcode === null ? null : Number(r.errcode),
    message: (r.message as string | null) ?? null,
    output: r.output as string,
    truncated: Number(r.truncated) === 1,
    skipped: Number(r.skipped) === 1,
    received: Number(r.received),
  });
  return {
    add(host, agentsn, r, now) {
      insert.run(
        host,
        agentsn ?? null,
        r.name,
        r.started,
        r.started_ms ?? null,
        r.duration_ms,
        r.retcode,
        r.errcode ?? null,
        r.message ?? null,
        r.output,
        r.truncated ? 1 : 0,
        r.skipped ? 1 : 0,
        now,
      );
      prune.run(host, r.name, host, r.name, keep);
    },
    list({ host, name, limit }) {
      const rows = (name === undefined ? byHost.all(host, host, limit) : byHostName.all(host, host, name, limit)) as Record<string, unknown>[];
      return rows.map(row).reverse();
    },
    close() {
      if (db.isOpen) db.close();
    },
  };
}
