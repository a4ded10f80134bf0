import { ErrorCode, ErrorMessage, SubtaskState } from '@aspire/protocol';
import {
  DEFAULT_PRIORITY,
  initialAdmission,
  parseTags,
  REVOCABLE_STATES,
  RETRYABLE_STATES,
  retryRefusal,
} from '../../tasks/state-machine.ts';
import type {
  CreatedTask,
  Mutation,
  Page,
  Paging,
  RevokedReserved,
  SubtaskRow,
  TaskRow,
  TaskSpec,
  UnknownTargets,
} from '../store.ts';
import { decodeSubtaskRow } from '../row-decoders.ts';
import { refusingUnknown, UnknownHostsRefusal } from '../../tasks/unknown-hosts.ts';
import type { Param } from './db.ts';
import { firstReadyAt } from '../../tasks/state-machine.ts';
import { conflict, notFound } from '../common.ts';
import { decodeTaskRow } from '../row-decoders.ts';
import { inList } from '../sql-fragments.ts';
import { ReadAhead } from './read-ahead.ts';
import { PgTaskCore, SUBTASK_COLS } from './task-queue-core.ts';

export type { ActiveTagTask } from './task-queue-core.ts';

/** What a retry reads of a subtask and its task. */
interface RetryRow {
  state: string;
  agentsn: string;
  status: string;
  ttl_ms: number;
  after_ids: string;
  known: number | null;
}
const HALTED_DEPENDENCIES =
  "its task is HALTED and the same host's subtasks of the tasks it runs after have not all succeeded";

export class PgTaskQueue extends PgTaskCore {
  /** "Nothing revoked": a quiet push's read (./status-ingestion.ts) for its revokedReserved(). */
  readonly noRevoked = new ReadAhead<true>();

  async unknownTargets(agents: readonly string[], taskIds: readonly number[]): Promise<UnknownTargets> {
    const tasks: number[] = [];
    for (const id of new Set(taskIds))
      if (!(await this.get('SELECT 1 AS x FROM tasks WHERE id = ?', id))) tasks.push(id);
    return { hosts: agents.length ? await this.unknownHosts([...new Set(agents)]) : [], tasks };
  }

  /** The AgentSNs of the list no host has, in list order: one query for any number (100,000). */
  private async unknownHosts(agents: readonly string[]): Promise<string[]> {
    const known = new Set(
      (
        await this.all<{ agentsn: string }>(
          'SELECT h.agentsn FROM hosts h JOIN json_array_elements_text(?::json) AS j(sn) ON j.sn = h.agentsn',
          JSON.stringify(agents),
        )
      ).map((r) => r.agentsn),
    );
    return agents.filter((sn) => !known.has(sn));
  }

  async createTask(spec: TaskSpec, now: number): Promise<CreatedTask> {
    return refusingUnknown(() =>
      this.tx(async () => {
        const after = [...new Set(spec.after ?? [])];
        const agents = spec.agents ? [...new Set(spec.agents)] : undefined;
        const selector = agents ? 'agents' : 'tags';
        const windowStart = selector === 'tags' ? (spec.windowStart ?? spec.startAt ?? now) : null;
        const windowEnd = selector === 'tags' ? (spec.windowEnd ?? windowStart! + 24 * 3600_000) : null;
        const { id } = (await this.get<{ id: number }>(
          `INSERT INTO tasks(command, parameters, "user", status, selector, tags, window_start, window_end, delay_ms, batch,
           retry_count, retry_interval_ms, ttl_ms, ttr_ms, count, complete, priority, start_at, batch_pct, max_errors, max_errors_pct,
           after_ids, buried_ttl_ms, gmt_create, gmt_modify)
         VALUES (?, ?, ?, 'RUNNING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
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
          spec.priority ?? DEFAULT_PRIORITY,
          spec.startAt ?? null,
          spec.batchPct ?? null,
          spec.maxErrors === undefined ? 0 : spec.maxErrors,
          spec.maxErrorsPct ?? null,
          JSON.stringify(after),
          spec.buriedTtlMs ?? 86_400_000,
          now,
          now,
        ))!;
        const results: { AgentSN: string; errcode?: number }[] = [];
        if (agents) {
          const task = (await this.taskRow(id))!;
          const readyAt = firstReadyAt(task, now);
          const admit = initialAdmission(task, readyAt, agents.length, now);
          // One statement for every known host (100,000 AgentSNs in one go), in list order (seq).
          const { changes: inserted } = await this.run(
            `INSERT INTO subtasks(id, taskid, agentsn, state, ready_at, expires_at, gmt_create, gmt_modify)
           SELECT gen_random_uuid()::text, ?, j.sn, ?, ?, ?, ?, ?
           FROM json_array_elements_text(?::json) WITH ORDINALITY AS j(sn, ord) JOIN hosts h ON h.agentsn = j.sn ORDER BY j.ord`,
            id,
            admit.state,
            readyAt,
            admit.expiresAt,
            now,
            now,
            JSON.stringify(agents),
          );
          const unknownHosts = inserted === agents.length ? [] : await this.unknownHosts(agents);
          // Refused whole: the transaction is undone and the unknown ones answered.
          if (unknownHosts.length && spec.refuseUnknown) throw new UnknownHostsRefusal(unknownHosts);
          if (unknownHosts.length) {
            await this.run(
              `INSERT INTO subtasks(id, taskid, agentsn, state, errcode, message, ready_at, gmt_create, gmt_modify)
             SELECT gen_random_uuid()::text, ?, j.sn, 'FAILED', ?, ?, ?, ?, ?
             FROM json_array_elements_text(?::json) WITH ORDINALITY AS j(sn, ord) ORDER BY j.ord`,
              id,
              ErrorCode.TASK_HOST_UNKNOWN,
              ErrorMessage.TASK_HOST_UNKNOWN,
              now,
              now,
              now,
              JSON.stringify(unknownHosts),
            );
          }
          const unknown = new Set(unknownHosts);
          for (const sn of agents)
            results.push(unknown.has(sn) ? { AgentSN: sn, errcode: ErrorCode.TASK_HOST_UNKNOWN } : { AgentSN: sn });
          await this.run('UPDATE tasks SET count = ? WHERE id = ?', agents.length, id);
          // Admitted at insert unless a batch or dependencies hold some back (rules: the SQLite twin).
          if (admit.state === SubtaskState.PENDING) await this.admitTask(id, now);
          if (unknownHosts.length) await this.refreshTask(id, now);
        }
        return { id, results };
      }),
    );
  }

  async getTask(
    id: number,
    filter: { state?: string } = {},
  ): Promise<{ task: TaskRow; subtasks: SubtaskRow[]; states: Record<string, number> } | undefined> {
    const task = await this.taskRow(id);
    if (!task) return undefined;
    const subtasks = filter.state
      ? await this.all(
          `SELECT ${SUBTASK_COLS} FROM subtasks WHERE taskid = ? AND state = ? ORDER BY gmt_create, seq`,
          id,
          filter.state,
        )
      : await this.all(`SELECT ${SUBTASK_COLS} FROM subtasks WHERE taskid = ? ORDER BY gmt_create, seq`, id);
    const states = Object.fromEntries(
      (
        await this.all<{ state: string; n: number }>(
          'SELECT state, COUNT(*) AS n FROM subtasks WHERE taskid = ? GROUP BY state',
          id,
        )
      ).map((r) => [r.state, r.n]),
    );
    return { task, subtasks: subtasks.map(decodeSubtaskRow), states };
  }

  async listTasks(filter: { status?: string; command?: string }, paging: Paging): Promise<Page<TaskRow>> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.status) where.push('status = ?'), params.push(filter.status);
    if (filter.command) where.push('command = ?'), params.push(filter.command);
    return this.page('tasks', 'SELECT * FROM tasks', where, params, paging, decodeTaskRow);
  }

  /** Revoke subtasks of a task (all, or one): waiting ones at once, RESERVED ones marked for the host to cancel. */
  private async revokeWhere(
    id: number,
    subtaskId: string | undefined,
    now: number,
  ): Promise<{ revoked: number; cancelling: number }> {
    const one = subtaskId === undefined ? '' : ' AND id = ?';
    const extra: Param[] = subtaskId === undefined ? [] : [subtaskId];
    const { changes: revoked } = await this.run(
      `UPDATE subtasks SET state = 'REVOKED', errcode = ?, message = ?, gmt_modify = ? WHERE taskid = ? AND state IN ${inList(REVOCABLE_STATES)}${one}`,
      ErrorCode.TASK_REVOKED,
      ErrorMessage.TASK_REVOKED,
      now,
      id,
      ...extra,
    );
    const { changes: cancelling } = await this.run(
      `UPDATE subtasks SET revoke_requested_at = ?, gmt_modify = ? WHERE taskid = ? AND state = 'RESERVED' AND revoke_requested_at IS NULL${one}`,
      now,
      now,
      id,
      ...extra,
    );
    this.noRevoked.clear();
    return { revoked, cancelling };
  }

  async revokeTask(id: number, now: number): Promise<Mutation<{ revoked: number; cancelling: number }>> {
    return this.tx(async () => {
      if (!(await this.taskRow(id))) return notFound(`no task ${id}`);
      const value = await this.revokeWhere(id, undefined, now);
      await this.run(
        `UPDATE tasks SET status = 'REVOKED', gmt_modify = ? WHERE id = ? AND status IN ('RUNNING', 'HALTED')`,
        now,
        id,
      );
      await this.refreshTask(id, now);
      return { ok: true as const, value };
    });
  }

  async revokeSubtask(
    taskid: number,
    subtaskId: string,
    now: number,
  ): Promise<Mutation<{ revoked: number; cancelling: number }>> {
    return this.tx(async () => {
      const s = await this.get<{ state: string }>(
        'SELECT state FROM subtasks WHERE taskid = ? AND id = ?',
        taskid,
        subtaskId,
      );
      if (!s) return notFound(`no subtask ${subtaskId} in task ${taskid}`);
      const value = await this.revokeWhere(taskid, subtaskId, now);
      if (value.revoked + value.cancelling === 0)
        return conflict(`subtask ${subtaskId} is ${s.state}: nothing to revoke`);
      await this.refreshTask(taskid, now);
      return { ok: true as const, value };
    });
  }

  async revokedReserved(agentsn: string): Promise<RevokedReserved[]> {
    if (this.noRevoked.take(agentsn)) return [];
    return this.all<RevokedReserved>(
      `SELECT id AS "subtaskId", jobid, taskid FROM subtasks WHERE agentsn = ? AND state = 'RESERVED' AND revoke_requested_at IS NOT NULL ORDER BY reserved_at`,
      agentsn,
    );
  }

  /** BURIED -> READY (a fresh attempt); DELAYED -> READY now (its ttl counts from now). */
  async kickTask(id: number, now: number, subtaskId?: string): Promise<Mutation<{ kicked: number }>> {
    return this.tx(async () => {
      const t = await this.taskRow(id);
      if (!t) return notFound(`no task ${id}`);
      const one = subtaskId === undefined ? '' : ' AND id = ?';
      const extra: Param[] = subtaskId === undefined ? [] : [subtaskId];
      if (
        subtaskId !== undefined &&
        !(await this.get('SELECT 1 AS x FROM subtasks WHERE taskid = ? AND id = ?', id, subtaskId))
      ) {
        return notFound(`no subtask ${subtaskId} in task ${id}`);
      }
      const buried = (
        await this.run(
          `UPDATE subtasks SET state = 'READY', requeues = 0, buried_at = NULL, gmt_modify = ? WHERE taskid = ? AND state = 'BURIED'${one}`,
          now,
          id,
          ...extra,
        )
      ).changes;
      const delayed = (
        await this.run(
          `UPDATE subtasks SET state = 'READY', ready_at = ?, expires_at = CASE WHEN attempts = 0 AND ?::bigint > 0 THEN ?::bigint + ?::bigint ELSE expires_at END, gmt_modify = ?
           WHERE taskid = ? AND state = 'DELAYED'${one}`,
          now,
          t.ttl_ms,
          now,
          t.ttl_ms,
          now,
          id,
          ...extra,
        )
      ).changes;
      return { ok: true as const, value: { kicked: buried + delayed } };
    });
  }

  async touchSubtask(taskid: number, subtaskId: string, now: number): Promise<Mutation<{ touched: number }>> {
    return this.tx(async () => {
      const s = await this.get<{ state: string }>(
        'SELECT state FROM subtasks WHERE taskid = ? AND id = ? FOR UPDATE',
        taskid,
        subtaskId,
      );
      if (!s) return notFound(`no subtask ${subtaskId} in task ${taskid}`);
      if (s.state !== SubtaskState.RESERVED)
        return conflict(`subtask ${subtaskId} is ${s.state}: only a RESERVED subtask can be touched`);
      await this.run(`UPDATE subtasks SET reserved_at = ?, gmt_modify = ? WHERE id = ?`, now, now, subtaskId);
      return { ok: true as const, value: { touched: 1 } };
    });
  }

  /** Retry one FAILED, BURIED or REVOKED subtask (rules: ../sqlite/task-queue.ts retrySubtask). */
  async retrySubtask(
    taskid: number,
    subtaskId: string,
    now: number,
  ): Promise<Mutation<{ retried: number; state: string }>> {
    return this.tx(async () => {
      const s = await this.get<RetryRow>(
        `SELECT s.state, s.agentsn, t.status, t.ttl_ms, t.after_ids, (SELECT 1 FROM hosts h WHERE h.agentsn = s.agentsn) AS known
         FROM subtasks s JOIN tasks t ON t.id = s.taskid WHERE s.taskid = ? AND s.id = ? FOR UPDATE OF s`,
        taskid,
        subtaskId,
      );
      if (!s) return notFound(`no subtask ${subtaskId} in task ${taskid}`);
      const refused =
        retryRefusal(s.state, s.status) ?? (s.known === null ? `no host ${s.agentsn} is known` : undefined);
      if (refused) return conflict(`subtask ${subtaskId} cannot be retried: ${refused}`);
      const halted = s.status === 'HALTED';
      const after = JSON.parse(s.after_ids) as number[];
      if (halted && after.length) {
        const ok = (await this.get<{ n: number }>(
          `SELECT COUNT(*)::int AS n FROM subtasks WHERE agentsn = ? AND state = 'SUCCESS'
           AND taskid IN (SELECT value::bigint FROM json_array_elements_text(?::json))`,
          s.agentsn,
          s.after_ids,
        ))!.n;
        if (ok < after.length) return conflict(`subtask ${subtaskId} cannot be retried: ${HALTED_DEPENDENCIES}`);
      }
      await this.run(
        `UPDATE subtasks SET state = ?, jobid = NULL, errcode = NULL, message = NULL, requeues = 0, buried_at = NULL,
           revoke_requested_at = NULL, expires_at = ?, reserved_at = NULL, ready_at = ?, gmt_modify = ? WHERE id = ?`,
        halted ? 'READY' : 'PENDING',
        halted && s.ttl_ms > 0 ? now + Number(s.ttl_ms) : null,
        now,
        now,
        subtaskId,
      );
      await this.run(
        `UPDATE tasks SET status = 'RUNNING', gmt_modify = ? WHERE id = ? AND status = 'COMPLETE'`,
        now,
        taskid,
      );
      if (!halted) await this.admitTask(taskid, now);
      await this.refreshTask(taskid, now);
      const state = (await this.get<{ state: string }>('SELECT state FROM subtasks WHERE id = ?', subtaskId))!.state;
      return { ok: true as const, value: { retried: 1, state } };
    });
  }

  /** Retry a whole task (rules: ../sqlite/task-queue.ts retryTask). */
  async retryTask(id: number, now: number): Promise<Mutation<{ retried: number }>> {
    return this.tx(async () => {
      const t = await this.get<{ status: string }>('SELECT status FROM tasks WHERE id = ? FOR UPDATE', id);
      if (!t) return notFound(`no task ${id}`);
      if (t.status === 'REVOKED')
        return conflict(`task ${id} is REVOKED: a revoked task runs nothing more (make a new task)`);
      const { changes: retried } = await this.run(
        `UPDATE subtasks SET state = 'PENDING', jobid = NULL, errcode = NULL, message = NULL, requeues = 0, buried_at = NULL,
           revoke_requested_at = NULL, expires_at = NULL, reserved_at = NULL, ready_at = ?, gmt_modify = ?
         WHERE taskid = ? AND state IN ${inList(RETRYABLE_STATES)} AND agentsn IN (SELECT agentsn FROM hosts)`,
        now,
        now,
        id,
      );
      if (retried > 0) {
        await this.run(
          `UPDATE tasks SET status = 'RUNNING', halt_reason = NULL, gmt_modify = ? WHERE id = ? AND status IN ('COMPLETE', 'HALTED')`,
          now,
          id,
        );
        await this.admitTask(id, now);
        await this.refreshTask(id, now);
      }
      return { ok: true as const, value: { retried } };
    });
  }
}
