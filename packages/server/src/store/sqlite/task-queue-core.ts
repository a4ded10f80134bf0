/**
 * The task queue of design.md §5 on SQLite, its core: how results, admission (batch, dependencies),
 * max_errors and the scheduler pass move subtasks (issue 13's full model). The rules are the pure
 * functions of ../../tasks/state-machine.ts; this file applies them in SQL. Creation and the
 * operator's actions are in task-queue.ts. Transitions and who triggers each: docs/server.md
 * "Task states".
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, ErrorMessage, SubtaskState } from '@aspire/protocol';
import {
  admitSlots,
  decideResult,
  decideRevokedResult,
  ERROR_STATES,
  EXPIRABLE_STATES,
  exceedsMaxErrors,
  firstReadyAt,
  IN_FLIGHT_STATES,
  MAX_TTR_REQUEUES,
  parseTags,
  resolveCount,
} from '../../tasks/state-machine.ts';
import type { TaskRow, TickOutcome } from '../store.ts';
import { decodeTaskRow } from '../row-decoders.ts';
import { FINAL_SQL, inList } from '../sql-fragments.ts';
import { SqlitePart, type Row } from './base.ts';

export interface ActiveTagTask {
  id: number;
  selector: string[];
  windowStart: number;
  windowEnd: number;
}

/** Errors that count against max_errors: failed runs of this task (not unknown hosts, failed dependencies or ttl expiry: nothing ran). */
const COUNTED_ERRORS_SQL = `state IN ${inList(ERROR_STATES)} AND COALESCE(errcode, 0) NOT IN (${ErrorCode.TASK_HOST_UNKNOWN}, ${ErrorCode.TASK_DEPENDENCY_FAILED}, ${ErrorCode.TASK_EXPIRED})`;
const FAILED_DEPENDENCY_STATES = `('FAILED','REVOKED')`;

export abstract class SqliteTaskCore extends SqlitePart {
  /** Active tag tasks, read once per change instead of once per status push. */
  protected tagTasks: ActiveTagTask[] | undefined;

  applyResult(jobid: string, agentsn: string, errcode: number, message: string, now: number): number | undefined {
    const s = this.get<{
      id: string;
      taskid: number;
      state: string;
      attempts: number;
      retry_count: number;
      retry_interval_ms: number;
      task_status: string;
      revoke_requested_at: number | null;
    }>(
      `SELECT s.id, s.taskid, s.state, s.attempts, s.revoke_requested_at, t.retry_count, t.retry_interval_ms, t.status AS task_status
       FROM subtasks s JOIN tasks t ON t.id = s.taskid WHERE s.jobid = ? AND s.agentsn = ?`,
      jobid,
      agentsn,
    );
    // Unknown ids, results of older attempts and repeats of recorded results are acknowledged
    // (the agent stops re-sending them) and change nothing.
    if (!s || (s.state !== SubtaskState.RESERVED && s.state !== SubtaskState.READY)) return undefined;
    // A task that stopped (revoked, halted) retries nothing.
    const stopped = s.task_status !== 'RUNNING';
    const d =
      s.revoke_requested_at !== null
        ? decideRevokedResult(errcode, message)
        : decideResult(
            s.attempts,
            { retryCount: stopped ? 0 : s.retry_count, retryIntervalMs: s.retry_interval_ms },
            errcode,
            message,
            now,
          );
    this.run(
      `UPDATE subtasks SET state = ?, errcode = ?, message = ?, ready_at = COALESCE(?, ready_at),
         jobid = CASE WHEN ? IN ('DELAYED', 'READY', 'BURIED') THEN NULL ELSE jobid END,
         buried_at = CASE WHEN ? = 'BURIED' THEN ? ELSE NULL END, gmt_modify = ? WHERE id = ?`,
      d.state,
      d.errcode,
      d.message,
      d.readyAt ?? null,
      d.state,
      d.state,
      now,
      now,
      s.id,
    );
    if ((ERROR_STATES as readonly string[]).includes(d.state)) this.checkHalt(s.taskid, now);
    return s.taskid;
  }

  async failReserved(jobid: string, errcode: number, message: string, now: number): Promise<void> {
    this.tx(() => {
      const s = this.get<{ taskid: number }>(
        `SELECT taskid FROM subtasks WHERE jobid = ? AND state = 'RESERVED'`,
        jobid,
      );
      if (!s) return;
      this.run(
        `UPDATE subtasks SET state = 'FAILED', errcode = ?, message = ?, gmt_modify = ? WHERE jobid = ?`,
        errcode,
        message,
        now,
        jobid,
      );
      this.checkHalt(s.taskid, now);
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
    return r ? decodeTaskRow(r) : undefined;
  }

  /** Insert a PENDING subtask for a host; false when the task already has one for it. */
  insertSubtask(task: TaskRow, agentsn: string, now: number): boolean {
    return (
      this.run(
        `INSERT OR IGNORE INTO subtasks(id, taskid, agentsn, state, ready_at, gmt_create, gmt_modify) VALUES (?, ?, ?, 'PENDING', ?, ?, ?)`,
        randomUUID(),
        task.id,
        agentsn,
        firstReadyAt(task, now),
        now,
        now,
      ).changes > 0
    );
  }

  /**
   * Admit PENDING subtasks into the batch's free slots: DELAYED until their ready time, else
   * READY; the ttl starts counting at the moment they are (or will be) READY. A subtask of a
   * task with dependencies is admitted only when the same host's subtask of each dependency
   * succeeded; it is FAILED (TASK_DEPENDENCY_FAILED) when one failed, was revoked, or is missing.
   */
  admitTask(taskid: number, now: number): number {
    const t = this.get<{
      batch: number;
      batch_pct: number | null;
      status: string;
      count: number;
      ttl_ms: number;
      after_ids: string;
    }>('SELECT batch, batch_pct, status, count, ttl_ms, after_ids FROM tasks WHERE id = ?', taskid);
    if (t?.status !== 'RUNNING') return 0;
    const c = this.get<{ inflight: number; pending: number }>(
      `SELECT COALESCE(SUM(state IN ${inList(IN_FLIGHT_STATES)}), 0) AS inflight, COALESCE(SUM(state = 'PENDING'), 0) AS pending
       FROM subtasks WHERE taskid = ?`,
      taskid,
    )!;
    const slots = admitSlots(resolveCount(t.batch, t.batch_pct, t.count), c.inflight, c.pending);
    if (slots <= 0) return 0;
    const after = JSON.parse(t.after_ids) as number[];
    if (after.length === 0) {
      return this.run(
        `UPDATE subtasks SET state = CASE WHEN ready_at > ? THEN 'DELAYED' ELSE 'READY' END,
           expires_at = CASE WHEN ? > 0 THEN MAX(ready_at, ?) + ? ELSE NULL END, gmt_modify = ?
         WHERE id IN (SELECT id FROM subtasks WHERE taskid = ? AND state = 'PENDING' ORDER BY gmt_create, rowid LIMIT ?)`,
        now,
        t.ttl_ms,
        now,
        t.ttl_ms,
        now,
        taskid,
        slots,
      ).changes;
    }
    let admitted = 0;
    const deps = inList(after.map(String)).replaceAll("'", '');
    for (const r of this.all<{ id: string; agentsn: string; ready_at: number }>(
      `SELECT id, agentsn, ready_at FROM subtasks WHERE taskid = ? AND state = 'PENDING' ORDER BY gmt_create, rowid`,
      taskid,
    )) {
      if (admitted >= slots) break;
      const d = this.get<{ n: number; ok: number; bad: number }>(
        `SELECT COUNT(*) AS n, COALESCE(SUM(state = 'SUCCESS'), 0) AS ok, COALESCE(SUM(state IN ${FAILED_DEPENDENCY_STATES}), 0) AS bad
         FROM subtasks WHERE agentsn = ? AND taskid IN ${deps}`,
        r.agentsn,
      )!;
      if (d.bad > 0 || d.n < after.length) {
        this.run(
          `UPDATE subtasks SET state = 'FAILED', errcode = ?, message = ?, gmt_modify = ? WHERE id = ?`,
          ErrorCode.TASK_DEPENDENCY_FAILED,
          d.n < after.length
            ? `${ErrorMessage.TASK_DEPENDENCY_FAILED}: a task in after has no subtask for this host`
            : ErrorMessage.TASK_DEPENDENCY_FAILED,
          now,
          r.id,
        );
        continue;
      }
      if (d.ok < after.length) continue;
      const readyAt = Math.max(r.ready_at, now);
      this.run(
        'UPDATE subtasks SET state = ?, ready_at = ?, expires_at = ?, gmt_modify = ? WHERE id = ?',
        readyAt > now ? SubtaskState.DELAYED : SubtaskState.READY,
        readyAt,
        t.ttl_ms > 0 ? readyAt + t.ttl_ms : null,
        now,
        r.id,
      );
      admitted++;
    }
    return admitted;
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

  /**
   * max_errors: once a RUNNING task's own failures exceed it, nothing more is dispatched: the
   * subtasks not yet RESERVED become REVOKED (TASK_HALTED) and the task is HALTED with a reason.
   */
  checkHalt(taskid: number, now: number): boolean {
    const t = this.get<{ status: string; count: number; max_errors: number | null; max_errors_pct: number | null }>(
      'SELECT status, count, max_errors, max_errors_pct FROM tasks WHERE id = ?',
      taskid,
    );
    if (t?.status !== 'RUNNING' || (t.max_errors === null && t.max_errors_pct === null)) return false;
    const limit = resolveCount(t.max_errors ?? 0, t.max_errors_pct, t.count);
    const errors = this.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM subtasks WHERE taskid = ? AND ${COUNTED_ERRORS_SQL}`,
      taskid,
    )!.n;
    if (!exceedsMaxErrors(errors, limit)) return false;
    const reason = `halted: ${errors} failed subtasks exceed max_errors ${t.max_errors_pct !== null ? `${t.max_errors_pct}% (${limit})` : limit}`;
    this.run(
      `UPDATE subtasks SET state = 'REVOKED', errcode = ?, message = ?, gmt_modify = ? WHERE taskid = ? AND state IN ('PENDING', 'DELAYED', 'READY')`,
      ErrorCode.TASK_HALTED,
      `${ErrorMessage.TASK_HALTED}: ${reason}`,
      now,
      taskid,
    );
    this.run(`UPDATE tasks SET status = 'HALTED', halt_reason = ?, gmt_modify = ? WHERE id = ?`, reason, now, taskid);
    this.tagTasks = undefined;
    return true;
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
      const buriedOut = this.all<{ taskid: number }>(
        `UPDATE subtasks SET state = 'FAILED', errcode = ?, message = ?, gmt_modify = ?
         FROM tasks t WHERE t.id = subtasks.taskid AND subtasks.state = 'BURIED' AND subtasks.buried_at IS NOT NULL AND subtasks.buried_at + t.buried_ttl_ms <= ?
         RETURNING subtasks.taskid AS taskid`,
        ErrorCode.TASK_BURIED_EXPIRED,
        ErrorMessage.TASK_BURIED_EXPIRED,
        now,
        now,
      );
      for (const r of buriedOut) touched.add(r.taskid);
      const promoted = this.run(
        `UPDATE subtasks SET state = 'READY', gmt_modify = ? WHERE state = 'DELAYED' AND ready_at <= ?`,
        now,
        now,
      ).changes;
      // A revoked RESERVED subtask whose host never reports: REVOKED when its ttr runs out.
      const revokedOut = this.all<{ taskid: number }>(
        `UPDATE subtasks SET state = 'REVOKED', errcode = ?, message = ?, gmt_modify = ?
         FROM tasks t WHERE t.id = subtasks.taskid AND subtasks.state = 'RESERVED' AND subtasks.revoke_requested_at IS NOT NULL AND subtasks.reserved_at + t.ttr_ms <= ?
         RETURNING subtasks.taskid AS taskid`,
        ErrorCode.TASK_REVOKED,
        `${ErrorMessage.TASK_REVOKED} (no result from the host within ttr)`,
        now,
        now,
      );
      for (const r of revokedOut) touched.add(r.taskid);
      const ttr = this.all<{ taskid: number; state: string }>(
        `UPDATE subtasks SET state = CASE WHEN requeues + 1 >= ? THEN 'BURIED' ELSE 'READY' END,
           buried_at = CASE WHEN requeues + 1 >= ? THEN ? ELSE NULL END, requeues = requeues + 1, gmt_modify = ?
         FROM tasks t WHERE t.id = subtasks.taskid AND subtasks.state = 'RESERVED' AND subtasks.reserved_at + t.ttr_ms <= ?
         RETURNING subtasks.taskid AS taskid, subtasks.state AS state`,
        MAX_TTR_REQUEUES,
        MAX_TTR_REQUEUES,
        now,
        now,
        now,
      );
      let completedTasks = 0;
      const running = this.all<{ id: number }>(`SELECT id FROM tasks WHERE status = 'RUNNING'`);
      for (const r of running) {
        touched.add(r.id);
        this.checkHalt(r.id, now);
      }
      let admitted = 0;
      for (const r of this.all<{ taskid: number }>(`SELECT DISTINCT taskid FROM subtasks WHERE state = 'PENDING'`)) {
        admitted += this.admitTask(r.taskid, now);
      }
      for (const id of touched) {
        const before = this.get<{ status: string }>('SELECT status FROM tasks WHERE id = ?', id)?.status;
        this.refreshTask(id, now);
        if (
          before === 'RUNNING' &&
          this.get<{ status: string }>('SELECT status FROM tasks WHERE id = ?', id)?.status === 'COMPLETE'
        )
          completedTasks++;
      }
      return {
        expired: expired.length + buriedOut.length,
        promoted,
        requeued: ttr.filter((r) => r.state === 'READY').length,
        buried: ttr.filter((r) => r.state === 'BURIED').length,
        admitted,
        completedTasks,
      };
    });
  }
}
