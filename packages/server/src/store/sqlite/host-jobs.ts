/**
 * The task queue's side of one status push on SQLite: the host's job results applied, the tag
 * tasks it matches joined, and the jobs its answer carries reserved. The rules are those of
 * ../../tasks/state-machine.ts, applied by the queue (./task-queue-core.ts); status ingestion
 * (./status-ingestion.ts) calls this inside the push's transaction and writes no task rule.
 */
import type { JobResult } from '@aspire/protocol';
import { tagsMatch } from '../../tasks/state-machine.ts';
import type { ReservedJob } from '../status-ingestion.ts';
import type { RevokedReserved } from '../task-store.ts';
import { SqlitePart, type SqliteDb } from './base.ts';
import type { SqliteTaskQueue } from './task-queue.ts';

/** What SqliteHostJobs.queueIdle answers for a host with nothing to hand out. */
export interface QueueIdle {
  revoked: RevokedReserved[];
  /** The answer holds, without a write to the host's subtasks, until this time (ms). */
  until: number;
}

/** At most this many jobs go out in one status reply. */
const RESERVE_MAX = 64;

export class SqliteHostJobs extends SqlitePart {
  constructor(
    sql: SqliteDb,
    private readonly tasks: SqliteTaskQueue,
  ) {
    super(sql);
  }

  /** Whether the host matches an open tag task it has no subtask in yet (a push would join it). */
  tagTaskToJoin(agentsn: string, hostTags: () => Set<string>, now: number): boolean {
    const active = this.tasks.activeTagTasks(now);
    if (active.length === 0) return false;
    const tags = hostTags();
    return active.some(
      (t) =>
        tagsMatch(t.selector, tags) &&
        !this.get('SELECT 1 AS x FROM subtasks WHERE taskid = ? AND agentsn = ?', t.id, agentsn),
    );
  }

  /**
   * Whether the host has nothing READY (or DELAYED and due) to hand out. When so: its RESERVED
   * subtasks whose revoke was asked (what its reply lists), read by the same query, and when
   * that stays true without a write (the earliest ready_at of its DELAYED subtasks). Undefined:
   * a push must reserve.
   */
  queueIdle(agentsn: string, now: number): QueueIdle | undefined {
    const rows = this.all<{
      state: string;
      ready_at: number | null;
      revoked: number;
      subtaskId: string;
      jobid: string;
      taskid: number;
    }>(
      `SELECT state, ready_at, revoke_requested_at IS NOT NULL AS revoked, id AS subtaskId, jobid, taskid
       FROM subtasks WHERE agentsn = ? AND state IN ('READY', 'DELAYED', 'RESERVED') ORDER BY reserved_at`,
      agentsn,
    );
    const revoked: RevokedReserved[] = [];
    let until = Number.POSITIVE_INFINITY;
    for (const r of rows) {
      if (r.state === 'READY') return undefined;
      if (r.state === 'DELAYED' && r.ready_at !== null) {
        if (r.ready_at <= now) return undefined;
        until = Math.min(until, r.ready_at);
      }
      if (r.state === 'RESERVED' && r.revoked)
        revoked.push({ subtaskId: r.subtaskId, jobid: r.jobid, taskid: r.taskid });
    }
    return { revoked, until };
  }

  /** Results applied, tag tasks joined, jobs reserved: the queue's part of one push. */
  forPush(
    agentsn: string,
    jobs: readonly JobResult[],
    hostTags: () => Set<string>,
    now: number,
  ): { reserved: ReservedJob[]; resultsRecorded: number } {
    const touched = new Set<number>();
    let resultsRecorded = 0;
    for (const r of jobs) {
      const tid = this.tasks.applyResult(r.id, agentsn, r.errcode, r.message, now);
      if (tid !== undefined) {
        touched.add(tid);
        resultsRecorded++;
      }
    }
    this.joinTagTasks(agentsn, hostTags, now, touched);
    for (const tid of touched) this.tasks.admitTask(tid, now);
    this.run(
      `UPDATE subtasks SET state = 'READY', gmt_modify = ? WHERE agentsn = ? AND state = 'DELAYED' AND ready_at <= ?`,
      now,
      agentsn,
      now,
    );
    const reserved = this.reserve(agentsn, now, touched);
    for (const tid of touched) this.tasks.refreshTask(tid, now);
    return { reserved, resultsRecorded };
  }

  /** Tag tasks: a host whose tags match an open window gets one subtask, once (UNIQUE key). */
  private joinTagTasks(agentsn: string, hostTags: () => Set<string>, now: number, touched: Set<number>): void {
    const active = this.tasks.activeTagTasks(now);
    if (active.length === 0) return;
    const tags = hostTags();
    for (const t of active) {
      if (!tagsMatch(t.selector, tags)) continue;
      const task = this.tasks.taskRow(t.id);
      if (!task) continue;
      if (this.tasks.insertSubtask(task, agentsn, now)) {
        this.run('UPDATE tasks SET count = count + 1, gmt_modify = ? WHERE id = ?', now, t.id);
        touched.add(t.id);
      }
    }
  }

  /** READY subtasks of the host -> RESERVED (or FAILED when their ttl ran out first). */
  private reserve(agentsn: string, now: number, touched: Set<number>): ReservedJob[] {
    const reserved: ReservedJob[] = [];
    const ready = this.all<{
      id: string;
      taskid: number;
      jobid: string | null;
      attempts: number;
      expires_at: number | null;
      command: string;
      parameters: string;
    }>(
      `SELECT s.id, s.taskid, s.jobid, s.attempts, s.expires_at, t.command, t.parameters
       FROM subtasks s JOIN tasks t ON t.id = s.taskid
       WHERE s.agentsn = ? AND s.state = 'READY' ORDER BY t.priority, s.taskid, s.gmt_create LIMIT ${RESERVE_MAX}`,
      agentsn,
    );
    for (const s of ready) {
      if (s.attempts === 0 && s.expires_at !== null && s.expires_at <= now) {
        this.tasks.expireOne(s.id, now);
        touched.add(s.taskid);
        continue;
      }
      // A new attempt gets a new job id (the agent runs an id at most once); a ttr requeue
      // re-sends the same id, so an agent that did run it just reports the result again.
      let jobid = s.jobid;
      let attempts = s.attempts;
      if (jobid === null) {
        attempts++;
        jobid = attempts === 1 ? s.id : `${s.id}.${attempts}`;
      }
      this.run(
        `UPDATE subtasks SET state = 'RESERVED', jobid = ?, attempts = ?, reserved_at = ?, gmt_modify = ? WHERE id = ?`,
        jobid,
        attempts,
        now,
        now,
        s.id,
      );
      reserved.push({
        subtaskId: s.id,
        jobid,
        taskid: s.taskid,
        command: s.command,
        parameters: JSON.parse(s.parameters) as Record<string, unknown>,
      });
    }
    return reserved;
  }
}
