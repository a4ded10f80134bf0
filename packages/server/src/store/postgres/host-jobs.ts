/**
 * The task queue's side of one status push on PostgreSQL: the host's job results applied, the
 * tag tasks it matches joined, and the jobs its answer carries reserved (rows locked, SKIP
 * LOCKED: another node's push of the same host takes the others). The rules are those of
 * ../../tasks/state-machine.ts, applied by the queue (./task-queue-core.ts); status ingestion
 * (./status-ingestion.ts) calls this inside the push's transaction and writes no task rule.
 */
import type { JobResult } from '@aspire/protocol';
import { tagsMatch } from '../../tasks/state-machine.ts';
import type { ReservedJob } from '../status-ingestion.ts';
import { PgPart, type PgDb } from './db.ts';
import type { PgTaskQueue } from './task-queue.ts';

/** At most this many jobs go out in one status reply. */
const RESERVE_MAX = 64;

export class PgHostJobs extends PgPart {
  constructor(
    sql: PgDb,
    private readonly tasks: PgTaskQueue,
  ) {
    super(sql);
  }

  /** Results applied, tag tasks joined, jobs reserved: the queue's part of one push. */
  async forPush(
    agentsn: string,
    jobs: readonly JobResult[],
    hostTags: () => Promise<Set<string>>,
    now: number,
  ): Promise<{ reserved: ReservedJob[]; resultsRecorded: number }> {
    const touched = new Set<number>();
    let resultsRecorded = 0;
    for (const r of jobs) {
      const tid = await this.tasks.applyResult(r.id, agentsn, r.errcode, r.message, now);
      if (tid !== undefined) {
        touched.add(tid);
        resultsRecorded++;
      }
    }
    await this.joinTagTasks(agentsn, hostTags, now, touched);
    // Task ids in order: two nodes admitting the same tasks lock them in the same order.
    for (const tid of [...touched].sort((a, b) => a - b)) await this.tasks.admitTask(tid, now);
    await this.run(
      this.sql.prepared(
        `UPDATE subtasks SET state = 'READY', gmt_modify = ? WHERE agentsn = ? AND state = 'DELAYED' AND ready_at <= ?`,
      ),
      now,
      agentsn,
      now,
    );
    const reserved = await this.reserve(agentsn, now, touched);
    for (const tid of [...touched].sort((a, b) => a - b)) await this.tasks.refreshTask(tid, now);
    return { reserved, resultsRecorded };
  }

  /** Tag tasks: a host whose tags match an open window gets one subtask, once (UNIQUE key). */
  private async joinTagTasks(
    agentsn: string,
    hostTags: () => Promise<Set<string>>,
    now: number,
    touched: Set<number>,
  ): Promise<void> {
    const active = await this.tasks.activeTagTasks(now);
    if (active.length === 0) return;
    const tags = await hostTags();
    for (const t of active) {
      if (!tagsMatch(t.selector, tags)) continue;
      const task = await this.tasks.taskRow(t.id);
      if (!task) continue;
      if (await this.tasks.insertSubtask(task, agentsn, now)) {
        await this.run('UPDATE tasks SET count = count + 1, gmt_modify = ? WHERE id = ?', now, t.id);
        touched.add(t.id);
      }
    }
  }

  /** READY subtasks of the host -> RESERVED (or FAILED when their ttl ran out first). */
  private async reserve(agentsn: string, now: number, touched: Set<number>): Promise<ReservedJob[]> {
    const reserved: ReservedJob[] = [];
    const ready = await this.all<{
      id: string;
      taskid: number;
      jobid: string | null;
      attempts: number;
      expires_at: number | null;
      command: string;
      parameters: string;
    }>(
      this.sql.prepared(`SELECT s.id, s.taskid, s.jobid, s.attempts, s.expires_at, t.command, t.parameters
         FROM subtasks s JOIN tasks t ON t.id = s.taskid
         WHERE s.agentsn = ? AND s.state = 'READY' ORDER BY t.priority, s.taskid, s.gmt_create, s.seq LIMIT ${RESERVE_MAX}
         FOR UPDATE OF s SKIP LOCKED`),
      agentsn,
    );
    for (const s of ready) {
      if (s.attempts === 0 && s.expires_at !== null && s.expires_at <= now) {
        await this.tasks.expireOne(s.id, now);
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
      await this.run(
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
