/**
 * Periodic-task results of BasicAgents (command hub task.result frames) on SQLite, in the
 * server's one database. Bounded twice: the newest `keep` rows per (host, name) on every
 * insert, and by age through pruneTaskResults (the server's hourly retention sweep).
 */
import { decodeTaskResultRow } from '../row-decoders.ts';
import type { TaskResultFilter, TaskResultInput, TaskResultRow } from '../store.ts';
import { SqlitePart, type Row } from './base.ts';

export class SqliteTaskResults extends SqlitePart {
  async addTaskResult(r: TaskResultInput, keep: number): Promise<void> {
    this.tx(() => {
      this.run(
        `INSERT INTO task_results(host, agentsn, name, started, started_ms, duration_ms, retcode, errcode, message, output, truncated, skipped, received)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        r.host,
        r.agentsn ?? null,
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
        r.received,
      );
      // Everything below the keep-th newest id of this (host, name) goes; the index makes it a range.
      const cut = this.get<{ id: number }>(
        'SELECT id FROM task_results WHERE host = ? AND name = ? ORDER BY id DESC LIMIT 1 OFFSET ?',
        r.host,
        r.name,
        keep,
      );
      if (cut) this.run('DELETE FROM task_results WHERE host = ? AND name = ? AND id <= ?', r.host, r.name, cut.id);
    });
  }

  async listTaskResults(f: TaskResultFilter): Promise<TaskResultRow[]> {
    // A host is asked for by hostname or AgentSN, connected or not.
    const rows =
      f.name === undefined
        ? this.all<Row>(
            'SELECT * FROM task_results WHERE host = ? OR agentsn = ? ORDER BY id DESC LIMIT ?',
            f.host,
            f.host,
            f.limit,
          )
        : this.all<Row>(
            'SELECT * FROM task_results WHERE (host = ? OR agentsn = ?) AND name = ? ORDER BY id DESC LIMIT ?',
            f.host,
            f.host,
            f.name,
            f.limit,
          );
    return rows.map(decodeTaskResultRow).reverse();
  }

  async pruneTaskResults(before: number): Promise<number> {
    return this.run('DELETE FROM task_results WHERE received < ?', before).changes;
  }
}
