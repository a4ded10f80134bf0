/**
 * The task queue of design.md §5 on PostgreSQL, its core: the statements of ../sqlite/task-queue-core.ts,
 * async, with the same rules from ../../tasks/state-machine.ts. No cache of the active tag tasks:
 * another node may create or close one at any time, so they are read from the database.
 * Subtasks handed out are locked (FOR UPDATE SKIP LOCKED) so two nodes never reserve the same one.
 * Creation and the operator's actions are in task-queue.ts.
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
import { PgPart, type Row } from './db.ts';

/** The SubtaskRow columns (seq, the insert order, stays inside the store). */
export const SUBTASK_COLS =
  'id, taskid, agentsn, state, jobid, attempts, requeues, ready_at, expires_at, reserved_at, errcode, message, buried_at, revoke_requested_at, gmt_create, gmt_modify';

/** Errors that count against max_errors: failed runs of this task (not unknown hosts, failed dependencies or ttl expiry: nothing ran). */
const COUNTED_ERRORS_SQL = `state IN ${inList(ERROR_STATES)} AND COALESCE(errcode, 0) NOT IN (${ErrorCode.TASK_HOST_UNKNOWN}, ${ErrorCode.TASK_DEPENDENCY_FAILED}, ${ErrorCode.TASK_EXPIRED})`;
const FAILED_DEPENDENCY_STATES = `('FAILED','REVOKED')`;

/** Advisory lock key of the scheduler pass (tick). */
export const TICK_LOCK_KEY = 0x61737074; // "aspt"

export interface ActiveTagTask {
  id: number;
  selector: string[];
  windowStart: number;
  windowEnd: number;
}

export abstract class PgTaskCore extends PgPart {
  async applyResult(
    jobid: string,
    agentsn: string,
    errcode: number,
    message: string,
    now: number,
  ): Promise<number | undefined> {
    const s = await this.get<{
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
       FROM subtasks s JOIN tasks t ON t.id = s.taskid WHERE s.jobid = ? AND s.agentsn = ? FOR UPDATE OF s`,
      jobid,
      agentsn,
    );
    // Unknown ids, results of older attempts and repeats of recorded results change nothing.
    if (!s || (s.state !== SubtaskState.RESERVED && s.state !== SubtaskState.READY)) return undefined;
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
    await this.run(
      `UPDATE subtasks SET state = ?, errcode = ?, message = ?, ready_at = COALESCE(?::bigint, ready_at),
         jobid = CASE WHEN ?::text IN ('DELAYED', 'READY', 'BURIED') THEN NULL ELSE jobid END,
         buried_at = CASE WHEN ?::text = 'BURIED' THEN ?::bigint ELSE NULL END, gmt_modify = ? WHERE id = ?`,
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
    if ((ERROR_STATES as readonly string[]).includes(d.state)) await this.checkHalt(s.taskid, now);
    return s.taskid;
  }

  async failReserved(jobid: string, errcode: number, message: string, now: number): Promise<void> {
    await this.tx(async () => {
      const s = await this.get<{ taskid: number }>(
        `SELECT taskid FROM subtasks WHERE jobid = ? AND state = 'RESERVED' FOR UPDATE`,
        jobid,
      );
      if (!s) return;
      await this.run(
        `UPDATE subtasks SET state = 'FAILED', errcode = ?, message = ?, gmt_modify = ? WHERE jobid = ?`,
        errcode,
        message,
        now,
        jobid,
      );
      await this.checkHalt(s.taskid, now);
      await this.refreshTask(s.taskid, now);
    });
  }

  async activeTagTasks(now: number): Promise<ActiveTagTask[]> {
    const rows = await this.all<{ id: number; tags: string; window_start: number; window_end: number }>(
      `SELECT id, tags, window_start, window_end FROM tasks WHERE selector = 'tags' AND status = 'RUNNING' AND window_start <= ? AND window_end >= ?`,
      now,
      now,
    );
    return rows.map((r) => ({
      id: r.id,
      selector: parseTags(r.tags),
      windowStart: r.window_start,
      windowEnd: r.window_end,
    }));
  }

  async taskRow(id: number): Promise<TaskRow | undefined> {
    const r = await this.get<Row>('SELECT * FROM tasks WHERE id = ?', id);
    return r ? decodeTaskRow(r) : undefined;
  }

  /** Insert a PENDING subtask for a host; false when the task already has one for it. */
  async insertSubtask(task: TaskRow, agentsn: string, now: number): Promise<boolean> {
    const r = await this.run(
      `INSERT INTO subtasks(id, taskid, agentsn, state, ready_at, gmt_create, gmt_modify) VALUES (?, ?, ?, 'PENDING', ?, ?, ?) ON CONFLICT DO NOTHING`,
      randomUUID(),
      task.id,
      agentsn,
      firstReadyAt(task, now),
      now,
      now,
    );
    return r.changes > 0;
  }

  /** Admit PENDING subtasks into the batch's free slots (rules: ../sqlite/task-queue-core.ts admitTask). */
  async admitTask(taskid: number, now: number): Promise<number> {
    // The task row lock serialises admission of one task across nodes (a batch is never exceeded).
    const t = await this.get<{
      batch: number;
      batch_pct: number | null;
      status: string;
      count: number;
      ttl_ms: number;
      after_ids: string;
    }>('SELECT batch, batch_pct, status, count, ttl_ms, after_ids FROM tasks WHERE id = ? FOR UPDATE', taskid);
    if (t?.status !== 'RUNNING') return 0;
    const c = (await this.get<{ inflight: number; pending: number }>(
      `SELECT COUNT(*) FILTER (WHERE state IN ${inList(IN_FLIGHT_STATES)}) AS inflight, COUNT(*) FILTER (WHERE state = 'PENDING') AS pending
       FROM subtasks WHERE taskid = ?`,
      taskid,
    ))!;
    const slots = admitSlots(resolveCount(t.batch, t.batch_pct, t.count), c.inflight, c.pending);
    if (slots <= 0) return 0;
    const after = JSON.parse(t.after_ids) as number[];
    if (after.length === 0) {
      return (
        await this.run(
          `UPDATE subtasks SET state = CASE WHEN ready_at > ?::bigint THEN 'DELAYED' ELSE 'READY' END,
             expires_at = CASE WHEN ?::bigint > 0 THEN GREATEST(ready_at, ?::bigint) + ?::bigint ELSE NULL END, gmt_modify = ?
           WHERE id IN (SELECT id FROM subtasks WHERE taskid = ? AND state = 'PENDING' ORDER BY gmt_create, seq LIMIT ?)`,
          now,
          t.ttl_ms,
          now,
          t.ttl_ms,
          now,
          taskid,
          slots,
        )
      ).changes;
    }
    let admitted = 0;
    const deps = after.map((x) => String(Math.trunc(Number(x)))).join(',');
    for (const r of await this.all<{ id: string; agentsn: string; ready_at: number }>(
      `SELECT id, agentsn, ready_at FROM subtasks WHERE taskid = ? AND state = 'PENDING' ORDER BY gmt_create, seq`,
      taskid,
    )) {
      if (admitted >= slots) break;
      const d = (await this.get<{ n: number; ok: number; bad: number }>(
        `SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE state = 'SUCCESS') AS ok, COUNT(*) FILTER (WHERE state IN ${FAILED_DEPENDENCY_STATES}) AS bad
         FROM subtasks WHERE agentsn = ? AND taskid IN (${deps})`,
        r.agentsn,
      ))!;
      if (d.bad > 0 || d.n < after.length) {
        await this.run(
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
      await this.run(
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

  async expireOne(id: string, now: number): Promise<void> {
    await this.run(
      `UPDATE subtasks SET state = 'FAILED', errcode = ?, message = ?, gmt_modify = ? WHERE id = ?`,
      ErrorCode.TASK_EXPIRED,
      ErrorMessage.TASK_EXPIRED,
      now,
      id,
    );
  }

  /** max_errors: a RUNNING task whose own failures exceed it is HALTED (rules: the SQLite twin). */
  async checkHalt(taskid: number, now: number): Promise<boolean> {
    const t = await this.get<{
      status: string;
      count: number;
      max_errors: number | null;
      max_errors_pct: number | null;
    }>('SELECT status, count, max_errors, max_errors_pct FROM tasks WHERE id = ?', taskid);
    if (t?.status !== 'RUNNING' || (t.max_errors === null && t.max_errors_pct === null)) return false;
    const limit = resolveCount(t.max_errors ?? 0, t.max_errors_pct, t.count);
    const errors = (await this.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM subtasks WHERE taskid = ? AND ${COUNTED_ERRORS_SQL}`,
      taskid,
    ))!.n;
    if (!exceedsMaxErrors(errors, limit)) return false;
    const reason = `halted: ${errors} failed subtasks exceed max_errors ${t.max_errors_pct !== null ? `${t.max_errors_pct}% (${limit})` : limit}`;
    await this.run(
      `UPDATE subtasks SET state = 'REVOKED', errcode = ?, message = ?, gmt_modify = ? WHERE taskid = ? AND state IN ('PENDING', 'DELAYED', 'READY')`,
      ErrorCode.TASK_HALTED,
      `${ErrorMessage.TASK_HALTED}: ${reason}`,
      now,
      taskid,
    );
    await this.run(
      `UPDATE tasks SET status = 'HALTED', halt_reason = ?, gmt_modify = ? WHERE id = ?`,
      reason,
      now,
      taskid,
    );
    return true;
  }

  /** Recount a task's finished subtasks and close it when everything is final; true when it closed now. */
  async refreshTask(taskid: number, now: number): Promise<boolean> {
    await this.run(
      `UPDATE tasks SET complete = (SELECT COUNT(*) FROM subtasks WHERE taskid = tasks.id AND state IN ${FINAL_SQL}), gmt_modify = ?
       WHERE id = ? AND complete != (SELECT COUNT(*) FROM subtasks WHERE taskid = tasks.id AND state IN ${FINAL_SQL})`,
      now,
      taskid,
    );
    const closed = await this.run(
      `UPDATE tasks SET status = 'COMPLETE', gmt_modify = ?
       WHERE id = ? AND status = 'RUNNING' AND complete = count AND (selector = 'agents' OR window_end < ?)`,
      now,
      taskid,
      now,
    );
    return closed.changes > 0;
  }

  async tick(now: number): Promise<TickOutcome> {
    return this.tx(async () => {
      // One scheduler pass at a time across the nodes: a node that finds another's pass running
      // skips this one (the next interval catches up) instead of fighting it for the same rows.
      const lock = await this.get<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(?) AS ok', TICK_LOCK_KEY);
      if (!lock?.ok) return { expired: 0, promoted: 0, requeued: 0, buried: 0, admitted: 0, completedTasks: 0 };
      const touched = new Set<number>();
      const expired = await this.all<{ taskid: number }>(
        `UPDATE subtasks SET state = 'FAILED', errcode = ?, message = ?, gmt_modify = ?
         WHERE state IN ${inList(EXPIRABLE_STATES)} AND attempts = 0 AND expires_at IS NOT NULL AND expires_at <= ?
         RETURNING taskid`,
        ErrorCode.TASK_EXPIRED,
        ErrorMessage.TASK_EXPIRED,
        now,
        now,
      );
      for (const r of expired) touched.add(r.taskid);
      const buriedOut = await this.all<{ taskid: number }>(
        `UPDATE subtasks SET state = 'FAILED', errcode = ?, message = ?, gmt_modify = ?
         FROM tasks t WHERE t.id = subtasks.taskid AND subtasks.state = 'BURIED' AND subtasks.buried_at IS NOT NULL AND subtasks.buried_at + t.buried_ttl_ms <= ?
         RETURNING subtasks.taskid AS taskid`,
        ErrorCode.TASK_BURIED_EXPIRED,
        ErrorMessage.TASK_BURIED_EXPIRED,
        now,
        now,
      );
      for (const r of buriedOut) touched.add(r.taskid);
      const promoted = (
        await this.run(
          `UPDATE subtasks SET state = 'READY', gmt_modify = ? WHERE state = 'DELAYED' AND ready_at <= ?`,
          now,
          now,
        )
      ).changes;
      const revokedOut = await this.all<{ taskid: number }>(
        `UPDATE subtasks SET state = 'REVOKED', errcode = ?, message = ?, gmt_modify = ?
         FROM tasks t WHERE t.id = subtasks.taskid AND subtasks.state = 'RESERVED' AND subtasks.revoke_requested_at IS NOT NULL AND subtasks.reserved_at + t.ttr_ms <= ?
         RETURNING subtasks.taskid AS taskid`,
        ErrorCode.TASK_REVOKED,
        `${ErrorMessage.TASK_REVOKED} (no result from the host within ttr)`,
        now,
        now,
      );
      for (const r of revokedOut) touched.add(r.taskid);
      const ttr = await this.all<{ taskid: number; state: string }>(
        `UPDATE subtasks SET state = CASE WHEN subtasks.requeues + 1 >= ? THEN 'BURIED' ELSE 'READY' END,
           buried_at = CASE WHEN subtasks.requeues + 1 >= ? THEN ?::bigint ELSE NULL END, requeues = subtasks.requeues + 1, gmt_modify = ?
         FROM tasks t WHERE t.id = subtasks.taskid AND subtasks.state = 'RESERVED' AND subtasks.reserved_at + t.ttr_ms <= ?
         RETURNING subtasks.taskid AS taskid, subtasks.state AS state`,
        MAX_TTR_REQUEUES,
        MAX_TTR_REQUEUES,
        now,
        now,
        now,
      );
      const running = await this.all<{ id: number }>(`SELECT id FROM tasks WHERE status = 'RUNNING' ORDER BY id`);
      for (const r of running) {
        touched.add(r.id);
        await this.checkHalt(r.id, now);
      }
      let admitted = 0;
      for (const r of await this.all<{ taskid: number }>(
        `SELECT DISTINCT taskid FROM subtasks WHERE state = 'PENDING' ORDER BY taskid`,
      )) {
        admitted += await this.admitTask(r.taskid, now);
      }
      let completedTasks = 0;
      for (const id of [...touched].sort((a, b) => a - b)) if (await this.refreshTask(id, now)) completedTasks++;
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
