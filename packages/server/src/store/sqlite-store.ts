/**
 * SQLite implementation of Store on node:sqlite (built into Node 24: no native addon, so the
 * server ships as a single executable). WAL journal, one connection = one writer, prepared
 * statements cached by text, every operation one transaction.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { ErrorCode, ErrorMessage, HostStatus, SubtaskState, type AgentReport } from '@aspire/protocol';
import {
  admitSlots,
  admitState,
  decideResult,
  EXPIRABLE_STATES,
  IN_FLIGHT_STATES,
  MAX_TTR_REQUEUES,
  parseTags,
  REVOCABLE_STATES,
  tagsMatch,
} from '../tasks/state-machine.ts';
import { MIGRATIONS } from './migrations.ts';
import { sortColumn } from './sorting.ts';
import type {
  Dashboard,
  EventFilter,
  EventRow,
  HostFilter,
  HostRow,
  Mutation,
  PackageFilter,
  PackageRow,
  Page,
  Paging,
  RegionRow,
  RegisterInput,
  RegisterOutcome,
  ReservedJob,
  StatusInput,
  StatusOutcome,
  Store,
  SubtaskRow,
  TagRow,
  TaskRow,
  TaskSpec,
  TickOutcome,
} from './store.ts';

type Row = Record<string, unknown>;
type Param = string | number | null;

const FINAL_SQL = `('SUCCESS','FAILED','REVOKED')`;
const inList = (xs: readonly string[]) => `(${xs.map((x) => `'${x}'`).join(',')})`;

interface ActiveTagTask {
  id: number;
  selector: string[];
  windowStart: number;
  windowEnd: number;
}

export function openSqliteStore(path: string): SqliteStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  return new SqliteStore(new DatabaseSync(path));
}

export class SqliteStore implements Store {
  private readonly stmts = new Map<string, StatementSync>();
  /** Active tag tasks, read once per change instead of once per status push. */
  private tagTasks: ActiveTagTask[] | undefined;

  constructor(private readonly db: DatabaseSync) {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA foreign_keys = ON');
    db.exec('PRAGMA busy_timeout = 5000');
    this.migrate();
  }

  close(): void {
    this.stmts.clear();
    if (this.db.isOpen) this.db.close();
  }

  // ---------------------------------------------------------------- plumbing

  private q(sql: string): StatementSync {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private get<T = Row>(sql: string, ...params: Param[]): T | undefined {
    return this.q(sql).get(...params) as T | undefined;
  }

  private all<T = Row>(sql: string, ...params: Param[]): T[] {
    return this.q(sql).all(...params) as T[];
  }

  private run(sql: string, ...params: Param[]): { changes: number; lastId: number } {
    const r = this.q(sql).run(...params);
    return { changes: Number(r.changes), lastId: Number(r.lastInsertRowid) };
  }

  private tx<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const v = fn();
      this.db.exec('COMMIT');
      return v;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL)');
    const done = new Set(this.all<{ version: number }>('SELECT version FROM schema_migrations').map((r) => r.version));
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      this.tx(() => {
        this.db.exec(m.sql);
        this.run('INSERT INTO schema_migrations(version, name, applied) VALUES (?, ?, ?)', m.version, m.name, Date.now());
      });
    }
  }

  /** Schema versions applied, for tests and `aspire` diagnostics. */
  appliedMigrations(): number[] {
    return this.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version').map((r) => r.version);
  }

  async secret(key: string): Promise<string> {
    return this.tx(() => {
      const row = this.get<{ value: string }>('SELECT value FROM meta WHERE key = ?', `secret:${key}`);
      if (row) return row.value;
      const value = randomBytes(32).toString('hex');
      this.run('INSERT INTO meta(key, value) VALUES (?, ?)', `secret:${key}`, value);
      return value;
    });
  }

  // ---------------------------------------------------------------- agents

  async register(input: RegisterInput): Promise<RegisterOutcome> {
    return this.tx(() => {
      const existing = this.get<{ id: number; hostname: string; status: string; credential_hash: string }>(
        'SELECT id, hostname, status, credential_hash FROM hosts WHERE agentsn = ?',
        input.agentsn,
      );
      let agentsn = input.agentsn;
      let conflict = false;
      if (!existing) {
        this.insertHost(agentsn, input);
      } else {
        // The same host asking again: it proves it with its credential, or it never got the
        // first answer (never pushed, same hostname). Anyone else gets a fresh AgentSN.
        const sameHost =
          (input.presentedHash !== undefined && input.presentedHash === existing.credential_hash) ||
          (existing.status === HostStatus.REGISTERED && existing.hostname === input.hostname);
        if (sameHost) {
          this.run('UPDATE hosts SET credential_hash = ?, ipaddr = ? WHERE id = ?', input.newHash, input.ip, existing.id);
        } else {
          conflict = true;
          agentsn = input.freshAgentsn;
          this.insertHost(agentsn, input);
        }
      }
      return { agentsn, conflict, tags: this.boundTags(agentsn).join(',') };
    });
  }

  private insertHost(agentsn: string, input: RegisterInput): void {
    this.run(
      `INSERT INTO hosts(agentsn, hostname, ipaddr, status, os, arch, curvers, credential_hash, gmt_create, gmt_modify)
       VALUES (?, ?, ?, 'registered', ?, ?, ?, ?, ?, ?)`,
      agentsn,
      input.hostname,
      input.ip,
      input.os ?? null,
      input.arch ?? null,
      input.version ?? null,
      input.newHash,
      input.now,
      input.now,
    );
  }

  private boundTags(agentsn: string): string[] {
    return this.all<{ t: string }>(
      `SELECT t.name || '=' || t.value AS t FROM hosts h JOIN hosts_tags ht ON ht.hostid = h.id JOIN tags t ON t.id = ht.tagid
       WHERE h.agentsn = ? ORDER BY t.name, t.value`,
      agentsn,
    ).map((r) => r.t);
  }

  async credentialHash(agentsn: string): Promise<string | undefined> {
    return this.get<{ credential_hash: string }>('SELECT credential_hash FROM hosts WHERE agentsn = ?', agentsn)?.credential_hash;
  }

  async ingestStatus(input: StatusInput): Promise<StatusOutcome> {
    return this.tx(() => {
      const now = input.now;
      const reportedTags = parseTags(input.tags).join(',');
      this.run(
        `UPDATE hosts SET hostname = ?, ipaddr = ?, step = ?, os = ?, arch = ?,
           prevers = CASE WHEN curvers IS NOT NULL AND curvers != ? THEN curvers ELSE prevers END,
           curvers = ?, uptime = ?, agents = ?, reported_tags = ?, last_seen = ?,
           gmt_modify = CASE WHEN status != 'online' THEN ? ELSE gmt_modify END, status = 'online'
         WHERE agentsn = ?`,
        input.hostname,
        input.ip,
        input.step,
        input.os,
        input.arch,
        input.version,
        input.version,
        input.uptime,
        JSON.stringify(input.agents),
        reportedTags,
        now,
        now,
        input.agentsn,
      );

      let eventsStored = 0;
      for (const e of input.events) {
        eventsStored += this.run(
          `INSERT OR IGNORE INTO events(agentsn, category, localid, occurred, kind, agent, message, data, gmt_create)
           VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?)`,
          input.agentsn,
          e.localid,
          e.occurred,
          e.kind,
          e.agent ?? null,
          e.message,
          e.data === undefined ? null : JSON.stringify(e.data),
          now,
        ).changes;
      }

      if (input.eventsDropped) {
        // The agent's bounded queue overflowed: keep that fact as a server-side event (category 0).
        eventsStored += this.run(
          `INSERT OR IGNORE INTO events(agentsn, category, localid, occurred, kind, message, data, gmt_create)
           VALUES (?, 0, 0, ?, 'events_dropped', ?, ?, ?)`,
          input.agentsn,
          Math.floor(now / 1000),
          `agent dropped ${input.eventsDropped} events (queue full)`,
          JSON.stringify({ dropped: input.eventsDropped }),
          now,
        ).changes;
      }

      const touched = new Set<number>();
      let resultsRecorded = 0;
      for (const r of input.jobs) {
        const tid = this.applyResult(r.id, input.agentsn, r.errcode, r.message, now);
        if (tid !== undefined) {
          touched.add(tid);
          resultsRecorded++;
        }
      }

      // Tag tasks: a host whose tags match an open window gets one subtask, once (UNIQUE key).
      const active = this.activeTagTasks(now);
      if (active.length > 0) {
        const hostTags = new Set([...parseTags(reportedTags), ...this.boundTags(input.agentsn)]);
        for (const t of active) {
          if (!tagsMatch(t.selector, hostTags)) continue;
          const task = this.taskRow(t.id);
          if (!task) continue;
          if (this.insertSubtask(task, input.agentsn, now)) {
            this.run('UPDATE tasks SET count = count + 1, gmt_modify = ? WHERE id = ?', now, t.id);
            touched.add(t.id);
          }
        }
      }
      for (const tid of touched) this.admitTask(tid, now);
      this.run(
        `UPDATE subtasks SET state = 'READY', gmt_modify = ? WHERE agentsn = ? AND state = 'DELAYED' AND ready_at <= ?`,
        now,
        input.agentsn,
        now,
      );

      const reserved: ReservedJob[] = [];
      const ready = this.all<{ id: string; taskid: number; jobid: string | null; attempts: number; expires_at: number | null; command: string; parameters: string }>(
        `SELECT s.id, s.taskid, s.jobid, s.attempts, s.expires_at, t.command, t.parameters
         FROM subtasks s JOIN tasks t ON t.id = s.taskid
         WHERE s.agentsn = ? AND s.state = 'READY' ORDER BY s.taskid, s.gmt_create LIMIT 64`,
        input.agentsn,
      );
      for (const s of ready) {
        if (s.attempts === 0 && s.expires_at !== null && s.expires_at <= now) {
          this.expireOne(s.id, now);
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
        reserved.push({ subtaskId: s.id, jobid, taskid: s.taskid, command: s.command, parameters: JSON.parse(s.parameters) as Record<string, unknown> });
      }
      for (const tid of touched) this.refreshTask(tid, now);
      return { reserved, host: { os: input.os, arch: input.arch }, eventsStored, resultsRecorded };
    });
  }

  /** Apply one reported job result; returns the task id when it changed a subtask. */
  private applyResult(jobid: string, agentsn: string, errcode: number, message: string, now: number): number | undefined {
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

  async markOffline(now: number, missedSteps: number): Promise<number> {
    return this.run(
      `UPDATE hosts SET status = 'offline', gmt_modify = ? WHERE status = 'online' AND last_seen + step * 1000 * ? < ?`,
      now,
      missedSteps,
      now,
    ).changes;
  }

  // ---------------------------------------------------------------- tasks

  private activeTagTasks(now: number): ActiveTagTask[] {
    if (!this.tagTasks) {
      this.tagTasks = this.all<{ id: number; tags: string; window_start: number; window_end: number }>(
        `SELECT id, tags, window_start, window_end FROM tasks WHERE selector = 'tags' AND status = 'RUNNING'`,
      ).map((r) => ({ id: r.id, selector: parseTags(r.tags), windowStart: r.window_start, windowEnd: r.window_end }));
    }
    return this.tagTasks.filter((t) => t.windowStart <= now && now <= t.windowEnd);
  }

  private taskRow(id: number): TaskRow | undefined {
    const r = this.get<Row>('SELECT * FROM tasks WHERE id = ?', id);
    return r ? toTask(r) : undefined;
  }

  /** Insert a PENDING subtask for a host; false when the task already has one for it. */
  private insertSubtask(task: TaskRow, agentsn: string, now: number): boolean {
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

  private admitTask(taskid: number, now: number): number {
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

  private expireOne(id: string, now: number): void {
    this.run(
      `UPDATE subtasks SET state = 'FAILED', errcode = ?, message = ?, gmt_modify = ? WHERE id = ?`,
      ErrorCode.TASK_EXPIRED,
      ErrorMessage.TASK_EXPIRED,
      now,
      id,
    );
  }

  /** Recount a task's finished subtasks and close it when everything is final. */
  private refreshTask(taskid: number, now: number): void {
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

  async getTask(id: number): Promise<{ task: TaskRow; subtasks: SubtaskRow[] } | undefined> {
    const task = this.taskRow(id);
    if (!task) return undefined;
    const subtasks = this.all<SubtaskRow>('SELECT * FROM subtasks WHERE taskid = ? ORDER BY gmt_create, rowid', id);
    return { task, subtasks };
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

  // ---------------------------------------------------------------- hosts

  private hostSelect = `SELECT h.*, r.name AS region_name,
      (SELECT GROUP_CONCAT(t.name || '=' || t.value, ',') FROM hosts_tags ht JOIN tags t ON t.id = ht.tagid WHERE ht.hostid = h.id) AS bound
    FROM hosts h LEFT JOIN regions r ON r.id = h.region`;

  async getHost(agentsn: string): Promise<HostRow | undefined> {
    const r = this.get<Row>(`${this.hostSelect} WHERE h.agentsn = ?`, agentsn);
    return r ? toHost(r) : undefined;
  }

  async listHosts(filter: HostFilter, paging: Paging): Promise<Page<HostRow>> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.status) (where.push('h.status = ?'), params.push(filter.status));
    else where.push(`h.status != 'deleted'`);
    if (filter.region !== undefined) (where.push('h.region = ?'), params.push(filter.region));
    if (filter.os) (where.push('h.os = ?'), params.push(filter.os));
    if (filter.arch) (where.push('h.arch = ?'), params.push(filter.arch));
    if (filter.version) (where.push('h.curvers = ?'), params.push(filter.version));
    if (filter.hostname) (where.push('h.hostname = ?'), params.push(filter.hostname));
    if (filter.search) {
      // A prefix match; LIKE wildcards in the input are literal.
      const p = `${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      where.push(`(h.hostname LIKE ? ESCAPE '\\' OR h.agentsn LIKE ? ESCAPE '\\')`);
      params.push(p, p);
    }
    if (filter.tag) {
      const [pair] = parseTags(filter.tag);
      const i = pair!.indexOf('=');
      const name = i < 0 ? pair! : pair!.slice(0, i);
      const value = i < 0 ? '' : pair!.slice(i + 1);
      where.push(
        `(EXISTS (SELECT 1 FROM hosts_tags ht JOIN tags t ON t.id = ht.tagid WHERE ht.hostid = h.id AND t.name = ? AND t.value = ?)
          OR instr(',' || h.reported_tags || ',', ?) > 0)`,
      );
      params.push(name, value, `,${pair},`);
    }
    return this.page('hosts', this.hostSelect, where, params, paging, toHost);
  }

  async setHostRegion(agentsns: string[], region: number, now: number): Promise<Mutation<{ updated: number }>> {
    return this.tx(() => {
      if (!this.get('SELECT 1 AS x FROM regions WHERE id = ?', region)) return notFound(`no region ${region}`);
      let updated = 0;
      for (const sn of agentsns) updated += this.run('UPDATE hosts SET region = ? WHERE agentsn = ?', region, sn).changes;
      void now;
      return { ok: true as const, value: { updated } };
    });
  }

  async deleteHost(agentsn: string, now: number): Promise<Mutation<{ deleted: number }>> {
    const { changes } = this.run(`UPDATE hosts SET status = 'deleted', gmt_modify = ? WHERE agentsn = ? AND status != 'deleted'`, now, agentsn);
    if (!changes && !this.get('SELECT 1 AS x FROM hosts WHERE agentsn = ?', agentsn)) return notFound(`no host ${agentsn}`);
    return { ok: true, value: { deleted: changes } };
  }

  // ---------------------------------------------------------------- tags and regions

  async listTags(filter: { name?: string }, paging: Paging): Promise<Page<TagRow>> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.name) (where.push('t.name = ?'), params.push(filter.name));
    return this.page(
      'tags',
      `SELECT t.*, (SELECT COUNT(*) FROM hosts_tags ht WHERE ht.tagid = t.id) AS hosts FROM tags t`,
      where,
      params,
      paging,
      (r) => r as unknown as TagRow,
    );
  }

  private tagById(id: number): TagRow | undefined {
    return this.get<TagRow>(`SELECT t.*, (SELECT COUNT(*) FROM hosts_tags ht WHERE ht.tagid = t.id) AS hosts FROM tags t WHERE t.id = ?`, id);
  }

  async createTag(name: string, value: string, now: number): Promise<Mutation<TagRow>> {
    return this.tx(() => {
      if (this.get('SELECT 1 AS x FROM tags WHERE name = ? AND value = ?', name, value)) return conflict(`tag ${name}=${value} exists`);
      const { lastId } = this.run('INSERT INTO tags(name, value, gmt_create, gmt_modify) VALUES (?, ?, ?, ?)', name, value, now, now);
      return { ok: true as const, value: this.tagById(lastId)! };
    });
  }

  async updateTag(id: number, name: string, value: string, now: number): Promise<Mutation<TagRow>> {
    return this.tx(() => {
      if (!this.tagById(id)) return notFound(`no tag ${id}`);
      const clash = this.get<{ id: number }>('SELECT id FROM tags WHERE name = ? AND value = ?', name, value);
      if (clash && clash.id !== id) return conflict(`tag ${name}=${value} exists`);
      this.run('UPDATE tags SET name = ?, value = ?, gmt_modify = ? WHERE id = ?', name, value, now, id);
      return { ok: true as const, value: this.tagById(id)! };
    });
  }

  async deleteTag(id: number): Promise<Mutation<{ deleted: number }>> {
    const { changes } = this.run('DELETE FROM tags WHERE id = ?', id);
    return changes ? { ok: true, value: { deleted: changes } } : notFound(`no tag ${id}`);
  }

  async bindTag(tagid: number, agentsns: string[], bind: boolean, now: number): Promise<Mutation<{ changed: number; unknown: string[] }>> {
    return this.tx(() => {
      if (!this.tagById(tagid)) return notFound(`no tag ${tagid}`);
      let changed = 0;
      const unknown: string[] = [];
      for (const sn of agentsns) {
        const h = this.get<{ id: number }>('SELECT id FROM hosts WHERE agentsn = ?', sn);
        if (!h) {
          unknown.push(sn);
          continue;
        }
        changed += bind
          ? this.run('INSERT OR IGNORE INTO hosts_tags(hostid, tagid) VALUES (?, ?)', h.id, tagid).changes
          : this.run('DELETE FROM hosts_tags WHERE hostid = ? AND tagid = ?', h.id, tagid).changes;
      }
      if (changed) this.run('UPDATE tags SET gmt_modify = ? WHERE id = ?', now, tagid);
      return { ok: true as const, value: { changed, unknown } };
    });
  }

  async listRegions(paging: Paging): Promise<Page<RegionRow>> {
    return this.page(
      'regions',
      `SELECT r.*, (SELECT COUNT(*) FROM hosts h WHERE h.region = r.id AND h.status != 'deleted') AS hosts FROM regions r`,
      [],
      [],
      paging,
      (r) => r as unknown as RegionRow,
    );
  }

  private regionById(id: number): RegionRow | undefined {
    return this.get<RegionRow>(`SELECT r.*, (SELECT COUNT(*) FROM hosts h WHERE h.region = r.id AND h.status != 'deleted') AS hosts FROM regions r WHERE r.id = ?`, id);
  }

  async createRegion(name: string, now: number): Promise<Mutation<RegionRow>> {
    return this.tx(() => {
      if (this.get('SELECT 1 AS x FROM regions WHERE name = ?', name)) return conflict(`region ${name} exists`);
      const { lastId } = this.run('INSERT INTO regions(name, gmt_create, gmt_modify) VALUES (?, ?, ?)', name, now, now);
      return { ok: true as const, value: this.regionById(lastId)! };
    });
  }

  async updateRegion(id: number, name: string, now: number): Promise<Mutation<RegionRow>> {
    return this.tx(() => {
      if (!this.regionById(id)) return notFound(`no region ${id}`);
      const clash = this.get<{ id: number }>('SELECT id FROM regions WHERE name = ?', name);
      if (clash && clash.id !== id) return conflict(`region ${name} exists`);
      this.run('UPDATE regions SET name = ?, gmt_modify = ? WHERE id = ?', name, now, id);
      return { ok: true as const, value: this.regionById(id)! };
    });
  }

  async deleteRegion(id: number): Promise<Mutation<{ deleted: number }>> {
    return this.tx(() => {
      if (id === 0) return { ok: false as const, reason: 'bad_request' as const, cause: 'region 0 (global) cannot be deleted' };
      const r = this.regionById(id);
      if (!r) return notFound(`no region ${id}`);
      // Hosts of a deleted region fall back to the global region rather than dangle.
      this.run('UPDATE hosts SET region = 0 WHERE region = ?', id);
      this.run('DELETE FROM regions WHERE id = ?', id);
      return { ok: true as const, value: { deleted: 1 } };
    });
  }

  // ---------------------------------------------------------------- events

  async listEvents(filter: EventFilter, paging: Paging): Promise<Page<EventRow>> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.agentsn) (where.push('agentsn = ?'), params.push(filter.agentsn));
    if (filter.since !== undefined) (where.push('occurred >= ?'), params.push(filter.since));
    if (filter.until !== undefined) (where.push('occurred <= ?'), params.push(filter.until));
    if (filter.kind) (where.push('kind = ?'), params.push(filter.kind));
    return this.page('events', 'SELECT * FROM events', where, params, paging, (r) => ({
      ...(r as unknown as EventRow),
      data: typeof r.data === 'string' ? (JSON.parse(r.data) as unknown) : null,
    }));
  }

  // ---------------------------------------------------------------- packages

  async insertPackage(p: Omit<PackageRow, 'id' | 'gmt_create' | 'gmt_modify'>, now: number): Promise<Mutation<PackageRow>> {
    return this.tx(() => {
      if (this.get('SELECT 1 AS x FROM packages WHERE name = ? AND os = ? AND arch = ? AND version = ?', p.name, p.os, p.arch, p.version)) {
        return conflict(`package ${p.name} ${p.version} ${p.os}/${p.arch} exists`);
      }
      if (this.get('SELECT 1 AS x FROM packages WHERE path = ?', p.path)) return conflict(`file ${p.path} belongs to another package`);
      const { lastId } = this.run(
        'INSERT INTO packages(name, version, os, arch, file, path, size, sha256, gmt_create, gmt_modify) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        p.name,
        p.version,
        p.os,
        p.arch,
        p.file,
        p.path,
        p.size,
        p.sha256,
        now,
        now,
      );
      return { ok: true as const, value: this.get<PackageRow>('SELECT * FROM packages WHERE id = ?', lastId)! };
    });
  }

  async getPackage(id: number): Promise<PackageRow | undefined> {
    return this.get<PackageRow>('SELECT * FROM packages WHERE id = ?', id);
  }

  async findPackage(name: string, version: string, os?: string, arch?: string): Promise<PackageRow | undefined> {
    if (os && arch) return this.get<PackageRow>('SELECT * FROM packages WHERE name = ? AND version = ? AND os = ? AND arch = ?', name, version, os, arch);
    return this.get<PackageRow>('SELECT * FROM packages WHERE name = ? AND version = ? ORDER BY id LIMIT 1', name, version);
  }

  private packageWhere(filter: PackageFilter): { where: string[]; params: Param[] } {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.id !== undefined) (where.push('id = ?'), params.push(filter.id));
    if (filter.name) (where.push('name = ?'), params.push(filter.name));
    if (filter.version) (where.push('version = ?'), params.push(filter.version));
    if (filter.os) (where.push('os = ?'), params.push(filter.os));
    if (filter.arch) (where.push('arch = ?'), params.push(filter.arch));
    return { where, params };
  }

  async listPackages(filter: PackageFilter, paging: Paging): Promise<Page<PackageRow>> {
    const { where, params } = this.packageWhere(filter);
    return this.page('packages', 'SELECT * FROM packages', where, params, paging, (r) => r as unknown as PackageRow);
  }

  async deletePackages(filter: PackageFilter): Promise<PackageRow[]> {
    const { where, params } = this.packageWhere(filter);
    if (where.length === 0) return [];
    return this.all<PackageRow>(`DELETE FROM packages WHERE ${where.join(' AND ')} RETURNING *`, ...params);
  }

  // ---------------------------------------------------------------- dashboard, tokens

  async computeDashboard(now: number): Promise<Dashboard> {
    const h = this.get<{ total: number; online: number; offline: number; registered: number }>(
      `SELECT COUNT(*) AS total, COALESCE(SUM(status = 'online'), 0) AS online, COALESCE(SUM(status = 'offline'), 0) AS offline,
              COALESCE(SUM(status = 'registered'), 0) AS registered
       FROM hosts WHERE status != 'deleted'`,
    )!;
    const agents = this.all<{ name: string; deployed: number; online: number }>(
      `SELECT j.value ->> 'name' AS name, COUNT(*) AS deployed,
              COALESCE(SUM(h.status = 'online' AND j.value ->> 'status' = 'running'), 0) AS online
       FROM hosts h, json_each(h.agents) j WHERE h.status != 'deleted' GROUP BY 1 ORDER BY 1`,
    );
    return { hosts: h, agents, computedAt: now };
  }

  async createToken(name: string, hash: string, now: number): Promise<number> {
    return this.run('INSERT INTO tokens(name, hash, gmt_create) VALUES (?, ?, ?)', name, hash, now).lastId;
  }

  async tokenName(hash: string, now: number): Promise<string | undefined> {
    const row = this.get<{ name: string }>('UPDATE tokens SET last_used = ? WHERE hash = ? RETURNING name', now, hash);
    return row?.name;
  }


  // ---------------------------------------------------------------- paging

  private page<T>(
    resource: Parameters<typeof sortColumn>[0],
    select: string,
    where: string[],
    params: Param[],
    paging: Paging,
    map: (r: Row) => T,
  ): Page<T> {
    const w = where.length ? ` WHERE ${where.join(' AND ')}` : '';
    const col = sortColumn(resource, paging.sortby);
    const dir = paging.order === 'desc' ? 'DESC' : 'ASC';
    const count = this.get<{ n: number }>(`SELECT COUNT(*) AS n FROM (${select}${w})`, ...params)!.n;
    const rows = this.all<Row>(`${select}${w} ORDER BY ${col} ${dir} LIMIT ? OFFSET ?`, ...params, paging.limit, paging.offset);
    return { count, offset: paging.offset, limit: paging.limit, items: rows.map(map) };
  }
}

function notFound(cause: string): { ok: false; reason: 'not_found'; cause: string } {
  return { ok: false, reason: 'not_found', cause };
}

function conflict(cause: string): { ok: false; reason: 'conflict'; cause: string } {
  return { ok: false, reason: 'conflict', cause };
}

function toTask(r: Row): TaskRow {
  return { ...(r as unknown as TaskRow), parameters: JSON.parse(r.parameters as string) as Record<string, unknown> };
}

function toHost(r: Row): HostRow {
  const { credential_hash: _omit, bound, ...rest } = r;
  return {
    ...(rest as unknown as HostRow),
    agents: JSON.parse((r.agents as string) || '[]') as AgentReport[],
    tags: typeof bound === 'string' && bound ? bound.split(',') : [],
  };
}
