/**
 * The task queue of seed 001 on SQLite: tasks, subtasks and their states. The rules are the
 * pure functions of ../../tasks/state-machine.ts; this file applies them in SQL.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, ErrorMessage, SubtaskState } from '@aspire/protocol';
import {
  admitSlots,
  admitState,
  decideResult,
  EXPIRABLE_STATES,
  IN_FLIGHT_STATES,
  MAX_TTR_REQUEUES,
  parseTags,
  REVOCABLE_STATES,
} from '../../tasks/state-machine.ts';
import type { Mutation, Page, Paging, SubtaskRow, TaskRow, TaskSpec, TickOutcome } from '../store.ts';
import { FINAL_SQL, inList, notFound, SqlitePart, type Param, type Row } from './base.ts';

export interface ActiveTagTask {
  id: number;
  selector: string[];
  windowStart: number;
  windowEnd: number;
}

export class SqliteTaskQueue extends SqlitePart {
  /** Active tag tasks, read once per change instead of once per status push. */
  private tagTasks: ActiveTagTask[] | undefined;

  applyResult(jobid: string, agentsn: string, errcode: number, message: string, now: number): number | undefined {
    const s = this.get<{ id: string; taskid: number; state: string; attempts: number; retry_count: number; retry_interval_ms: number; task_status: string }>(
      `SELECT s.id, s.taskid, s.state, s.attempts, t.retry_count, t.retry_interval_ms, t.status AS task_status
       FROM subtasks s JOIN tasks t ON t.id = s.taskid WHERE s.jobid = ? AND s.agentsn = ?`,
      jobid,
      agentsn,
    );
    // Unknown ids, results of older attempts and repeats of recorded results are acknowledged
    // (the agent stops re-sending them) and change nothing.
    if (!s || (s.state !== SubtaskState.RESERVED && s.state !== SubtaskState.READY)) return undefined;
    const revoked = s.task_status === 'REVOKED';
    const d = decideResult(s.attempts, { retryCount: revoked ? 0 : s.retry_count, retryIntervalMs: s.retry_interval_ms }, errcode, message, now);
    this.run(
      `UPDATE subtasks SET state = ?, errcode = ?, message = ?, ready_at = COALESCE(?, ready_at),
         jobid = CASE WHEN ? IN ('DELAYED', 'READY') THEN NULL ELSE jobid END, gmt_modify = ? WHERE id = ?`,
      d.state,
      d.errcode,
      d.message,
      d.readyAt ?? null,
      d.state,
      now,
      s.id,
    );
    return s.taskid;
  }

  async failReserved(jobid: string, errcode: number, message: string, now: number): Promise<void> {
    this.tx(() => {
      const s = this.get<{ taskid: number }>(`SELECT taskid FROM subtasks WHERE jobid = ? AND state = 'RESERVED'`, jobid);
      if (!s) return;
      this.run(`UPDATE subtasks SET state = 'FAILED', errcode = ?, message = ?, gmt_modify = ? WHERE jobid = ?`, errcode, message, now, jobid);
      this.refreshTask(s.taskid, now);
    });
  }


  activeTagTasks(now: number): ActiveTagTask[] {
    if (!this.tagTasks) {
      this.tagTasks = this.all<{ id: number; tags: string; window_start: number; window_end: number }>(
        `SELECT id, tags, window_start, window_end FROM tasks WHERE selector = 'tags' AND status = 'RUNNING'`,
      ).map((r) => ({ id: r.id, selector: parseTags(r.tags), windowStart: r.window_start, windowEnd: r.window_end }));
    }
    return this.tagTasks.filter((t) => t.windowStart <= now && now <= t.windowEnd);
  }

  taskRow(id: number): TaskRow | undefined {
    const r = this.get<Row>('SELECT * FROM tasks WHERE id = ?', id);
    return r ? toTask(r) : undefined;
  }

  /** Insert a PENDING subtask for a host; false when the task already has one for it. */
  insertSubtask(task: TaskRow, agentsn: string, now: number): boolean {
    const readyAt = Math.max(now, task.gmt_create + task.delay_ms);
    const expiresAt = task.ttl_ms > 0 ? readyAt + task.ttl_ms : null;
    return (
      this.run(
        `INSERT OR IGNORE INTO subtasks(id, taskid, agentsn, state, ready_at, expires_at, gmt_create, gmt_modify)
         VALUES (?, ?, ?, 'PENDING', ?, ?, ?, ?)`,
        randomUUID(),
        task.id,
        agentsn,
        readyAt,
        expiresAt,
        now,
        now,
      ).changes > 0
    );
  }

  admitTask(taskid: number, now: number): number {
    const t = this.get<{ batch: number; status: string }>('SELECT batch, status FROM tasks WHERE id = ?', taskid);
    if (!t || t.status !== 'RUNNING') return 0;
    const c = this.get<{ inflight: number; pending: number }>(
      `SELECT COALESCE(SUM(state IN ${inList(IN_FLIGHT_STATES)}), 0) AS inflight, COALESCE(SUM(state = 'PENDING'), 0) AS pending
       FROM subtasks WHERE taskid = ?`,
      taskid,
    )!;
    const slots = admitSlots(t.batch, c.inflight, c.pending);
    if (slots <= 0) return 0;
    const rows = this.all<{ id: string; ready_at: number }>(
      `SELECT id, ready_at FROM subtasks WHERE taskid = ? AND state = 'PENDING' ORDER BY gmt_create, rowid LIMIT ?`,
      taskid,
      slots,
    );
    for (const r of rows) this.run('UPDATE subtasks SET state = ?, gmt_modify = ? WHERE id = ?', admitState(r.ready_at, now), now, r.id);
    return rows.length;
  }

  expireOne(id: string, now: number): void {
    this.run(
      `UPDATE subtasks SET state = 'FAILED', errcode = ?, message = ?, gmt_modify = ? WHERE id = ?`,
      ErrorCode.TASK_EXPIRED,
      ErrorMessage.TASK_EXPIRED,
      now,
      id,
    );
  }

  /** Recount a task's finished subtasks and close it when everything is final. */
  refreshTask(taskid: number, now: number): void {
    this.run(
      `UPDATE tasks SET complete = (SELECT COUNT(*) FROM subtasks WHERE taskid = tasks.id AND state IN ${FINAL_SQL}), gmt_modify = ?
       WHERE id = ? AND complete != (SELECT COUNT(*) FROM subtasks WHERE taskid = tasks.id AND state IN ${FINAL_SQL})`,
      now,
      taskid,
    );
    const closed = this.run(
      `UPDATE tasks SET status = 'COMPLETE', gmt_modify = ?
       WHERE id = ? AND status = 'RUNNING' AND complete = count AND (selector = 'agents' OR window_end < ?)`,
      now,
      taskid,
      now,
    ).changes;
    if (closed) this.tagTasks = undefined;
  }

  async createTask(spec: TaskSpec, now: number): Promise<{ id: number; results: { AgentSN: string; errcode?: number }[] }> {
    return this.tx(() => {
      const selector = spec.agents ? 'agents' : 'tags';
      const windowStart = selector === 'tags' ? (spec.windowStart ?? now) : null;
      const windowEnd = selector === 'tags' ? (spec.windowEnd ?? windowStart! + 24 * 3600_000) : null;
      const { lastId: id } = this.run(
        `INSERT INTO tasks(command, parameters, user, status, selector, tags, window_start, window_end, delay_ms, batch,
           retry_count, retry_interval_ms, ttl_ms, ttr_ms, count, complete, gmt_create, gmt_modify)
         VALUES (?, ?, ?, 'RUNNING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)`,
        spec.command,
        JSON.stringify(spec.parameters),
        spec.user ?? null,
        selector,
        spec.tags ? parseTags(spec.tags).join(',') : null,
        windowStart,
        windowEnd,
        spec.delayMs,
        spec.batch,
        spec.retryCount,
        spec.retryIntervalMs,
        spec.ttlMs,
        spec.ttrMs,
        now,
        now,
      );
      const results: { AgentSN: string; errcode?: number }[] = [];
      if (spec.agents) {
        const task = this.taskRow(id)!;
        const seen = new Set<string>();
        for (const sn of spec.agents) {
          if (seen.has(sn)) continue;
          seen.add(sn);
          const known = this.get('SELECT 1 AS x FROM hosts WHERE agentsn = ?', sn);
          if (known) {
            this.insertSubtask(task, sn, now);
            results.push({ AgentSN: sn });
          } else {
            this.run(
              `INSERT INTO subtasks(id, taskid, agentsn, state, errcode, message, ready_at, gmt_create, gmt_modify)
               VALUES (?, ?, ?, 'FAILED', ?, ?, ?, ?, ?)`,
              randomUUID(),
              id,
              sn,
              ErrorCode.TASK_HOST_UNKNOWN,
              ErrorMessage.TASK_HOST_UNKNOWN,
              now,
              now,
              now,
            );
            results.push({ AgentSN: sn, errcode: ErrorCode.TASK_HOST_UNKNOWN });
          }
        }
        this.run('UPDATE tasks SET count = ? WHERE id = ?', seen.size, id);
        this.admitTask(id, now);
        this.refreshTask(id, now);
      } else {
        this.tagTasks = undefined;
      }
      return { id, results };
    });
  }

  async getTask(id: number, filter: { state?: string } = {}): Promise<{ task: TaskRow; subtasks: SubtaskRow[]; states: Record<string, number> } | undefined> {
    const task = this.taskRow(id);
    if (!task) return undefined;
    const subtasks = filter.state
      ? this.all<SubtaskRow>('SELECT * FROM subtasks WHERE taskid = ? AND state = ? ORDER BY gmt_create, rowid', id, filter.state)
      : this.all<SubtaskRow>('SELECT * FROM subtasks WHERE taskid = ? ORDER BY gmt_create, rowid', id);
    const states = Object.fromEntries(
      this.all<{ state: string; n: number }>('SELECT state, COUNT(*) AS n FROM subtasks WHERE taskid = ? GROUP BY state', id).map((r) => [r.state, r.n]),
    );
    return { task, subtasks, states };
  }


  async listTasks(filter: { status?: string; command?: string }, paging: Paging): Promise<Page<TaskRow>> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.status) (where.push('status = ?'), params.push(filter.status));
    if (filter.command) (where.push('command = ?'), params.push(filter.command));
    return this.page('tasks', 'SELECT * FROM tasks', where, params, paging, toTask);
  }

  async revokeTask(id: number, now: number): Promise<Mutation<{ revoked: number }>> {
    return this.tx(() => {
      const t = this.taskRow(id);
      if (!t) return notFound(`no task ${id}`);
      const { changes } = this.run(
        `UPDATE subtasks SET state = 'REVOKED', errcode = ?, message = ?, gmt_modify = ? WHERE taskid = ? AND state IN ${inList(REVOCABLE_STATES)}`,
        ErrorCode.TASK_REVOKED,
        ErrorMessage.TASK_REVOKED,
        now,
        id,
      );
      // RESERVED subtasks are running on their hosts: their results are still recorded.
      this.run(`UPDATE tasks SET status = 'REVOKED', gmt_modify = ? WHERE id = ? AND status = 'RUNNING'`, now, id);
      this.tagTasks = undefined;
      this.refreshTask(id, now);
      return { ok: true as const, value: { revoked: changes } };
    });
  }

  async kickTask(id: number, now: number): Promise<Mutation<{ kicked: number }>> {
    return this.tx(() => {
      if (!this.taskRow(id)) return notFound(`no task ${id}`);
      const { changes } = this.run(
        `UPDATE subtasks SET state = 'READY', requeues = 0, gmt_modify = ? WHERE taskid = ? AND state = 'BURIED'`,
        now,
        id,
      );
      return { ok: true as const, value: { kicked: changes } };
    });
  }

  async tick(now: number): Promise<TickOutcome> {
    return this.tx(() => {
      const touched = new Set<number>();
      const expired = this.all<{ taskid: number }>(
        `UPDATE subtasks SET state = 'FAILED', errcode = ?, message = ?, gmt_modify = ?
         WHERE state IN ${inList(EXPIRABLE_STATES)} AND attempts = 0 AND expires_at IS NOT NULL AND expires_at <= ?
         RETURNING taskid`,
        ErrorCode.TASK_EXPIRED,
        ErrorMessage.TASK_EXPIRED,
        now,
        now,
      );
      for (const r of expired) touched.add(r.taskid);
      const promoted = this.run(`UPDATE subtasks SET state = 'READY', gmt_modify = ? WHERE state = 'DELAYED' AND ready_at <= ?`, now, now).changes;
      const ttr = this.all<{ taskid: number; state: string }>(
        `UPDATE subtasks SET state = CASE WHEN requeues + 1 >= ? THEN 'BURIED' ELSE 'READY' END, requeues = requeues + 1, gmt_modify = ?
         FROM tasks t WHERE t.id = subtasks.taskid AND subtasks.state = 'RESERVED' AND subtasks.reserved_at + t.ttr_ms <= ?
         RETURNING subtasks.taskid AS taskid, subtasks.state AS state`,
        MAX_TTR_REQUEUES,
        now,
        now,
      );
      let admitted = 0;
      for (const r of this.all<{ taskid: number }>(`SELECT DISTINCT taskid FROM subtasks WHERE state = 'PENDING'`)) {
        admitted += this.admitTask(r.taskid, now);
      }
      let completedTasks = 0;
      for (const r of this.all<{ id: number }>(`SELECT id FROM tasks WHERE status = 'RUNNING'`)) touched.add(r.id);
      for (const id of touched) {
        const before = this.get<{ status: string }>('SELECT status FROM tasks WHERE id = ?', id)?.status;
        this.refreshTask(id, now);
        if (before === 'RUNNING' && this.get<{ status: string }>('SELECT status FROM tasks WHERE id = ?', id)?.status === 'COMPLETE') completedTasks++;
      }
      return {
        expired: expired.length,
        promoted,
        requeued: ttr.filter((r) => r.state === 'READY').length,
        buried: ttr.filter((r) => r.state === 'BURIED').length,
        admitted,
        completedTasks,
      };
    });
  }

}

function toTask(r: Row): TaskRow {
  return { ...(r as unknown as TaskRow), parameters: JSON.parse(r.parameters as string) as Record<string, unknown> };
}
