/**
 * PostgreSQL implementation of Store on `pg` (node-postgres). Same tables, statements and
 * rules as ../sqlite-store.ts, with what several nodes sharing one database need: no
 * per-process cache of what another node may change (the quiet-push fingerprints and the tag
 * task cache of the SQLite store are single-writer shortcuts), row locks where a subtask is
 * reserved, and migrations under an advisory lock. This file holds the agent side and hosts;
 * the task queue, inventory, operators, packages and task results are parts beside it.
 */
import { randomBytes } from 'node:crypto';
import { HostStatus, type AgentReport } from '@aspire/protocol';
import { parseTags, tagsMatch } from '../../tasks/state-machine.ts';
import type {
  AuditEntry,
  AuditFilter,
  AuditRow,
  Dashboard,
  EventFilter,
  EventRow,
  HostFilter,
  HostIdentityRow,
  HostSubtaskRow,
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
  RevokedReserved,
  StatusInput,
  StatusOutcome,
  Store,
  SubtaskRow,
  TagRow,
  TaskResultFilter,
  TaskResultInput,
  TaskResultRow,
  TaskRow,
  TaskSpec,
  TickOutcome,
  TokenGrant,
  TokenRow,
  UnknownTargets,
  CreatedTask,
} from '../store.ts';
import { hostnameRefusal } from '../hostname-claim.ts';
import type { PgConnection } from './connection.ts';
import { isUniqueViolation, PgDb, PgPart, type Param, type Row } from './db.ts';
import { PgInventory } from './inventory.ts';
import { PgOperators } from './operators.ts';
import { PgPackages } from './packages.ts';
import { PgPolicy } from './policy.ts';
import { notFound, PgTaskQueue } from './task-queue.ts';
import { PgTaskResults } from './task-results.ts';

/** Connect, apply the missing migrations (advisory lock) and return the store. */
export async function openPostgresStore(conn: PgConnection, opts: { poolSize?: number } = {}): Promise<PostgresStore> {
  const db = new PgDb(conn, opts.poolSize);
  try {
    await db.migrate();
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return new PostgresStore(db);
}

const HOST_SELECT = `SELECT h.*, r.name AS region_name,
    (SELECT string_agg(t.name || '=' || t.value, ',' ORDER BY t.name, t.value) FROM hosts_tags ht JOIN tags t ON t.id = ht.tagid WHERE ht.hostid = h.id) AS bound
  FROM hosts h LEFT JOIN regions r ON r.id = h.region`;

export class PostgresStore extends PgPart implements Store {
  private readonly tasks: PgTaskQueue;
  private readonly inventory: PgInventory;
  private readonly packages: PgPackages;
  private readonly taskResults: PgTaskResults;
  private readonly operators: PgOperators;
  readonly policy: PgPolicy;
  private closing: Promise<void> | undefined;

  constructor(db: PgDb) {
    super(db);
    this.tasks = new PgTaskQueue(db);
    this.inventory = new PgInventory(db);
    this.packages = new PgPackages(db);
    this.taskResults = new PgTaskResults(db);
    this.operators = new PgOperators(db);
    this.policy = new PgPolicy(db);
  }

  /** The pool (the cluster layer shares it, e.g. for LISTEN/NOTIFY). */
  get pool(): PgDb['pool'] {
    return this.sql.pool;
  }

  close(): Promise<void> {
    this.closing ??= this.sql.close();
    return this.closing;
  }

  appliedMigrations(): Promise<number[]> {
    return this.sql.appliedMigrations();
  }

  async secret(key: string): Promise<string> {
    // Two nodes asking at once: the first insert wins and both read its value.
    await this.run(
      'INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT DO NOTHING',
      `secret:${key}`,
      randomBytes(32).toString('hex'),
    );
    return (await this.get<{ value: string }>('SELECT value FROM meta WHERE key = ?', `secret:${key}`))!.value;
  }

  // ---------------------------------------------------------------- agents

  async register(input: RegisterInput): Promise<RegisterOutcome> {
    try {
      return await this.registerOnce(input);
    } catch (err) {
      // Another node inserted the same AgentSN meanwhile: decide again against its row.
      if (isUniqueViolation(err)) return this.registerOnce(input);
      throw err;
    }
  }

  private registerOnce(input: RegisterInput): Promise<RegisterOutcome> {
    return this.tx(async () => {
      const existing = await this.get<{ id: number; hostname: string; status: string; credential_hash: string }>(
        'SELECT id, hostname, status, credential_hash FROM hosts WHERE agentsn = ? FOR UPDATE',
        input.agentsn,
      );
      let agentsn = input.agentsn;
      let conflict = false;
      if (!existing) {
        await this.insertHost(agentsn, input);
      } else {
        // The same rules as the SQLite store (issue 16 item 6, seed conflict rule).
        const proven =
          existing.credential_hash === '' ||
          (input.presentedHash !== undefined && input.presentedHash === existing.credential_hash);
        if (existing.status === HostStatus.DELETED && (proven || existing.hostname === input.hostname)) {
          return { agentsn, conflict: false, tags: '', refused: 'deleted' as const };
        }
        if (!proven && existing.hostname === input.hostname)
          return { agentsn, conflict: false, tags: '', refused: 'takeover' as const };
        if (proven) {
          await this.run(
            'UPDATE hosts SET credential_hash = ?, ipaddr = ? WHERE id = ?',
            input.newHash,
            input.ip,
            existing.id,
          );
        } else {
          conflict = true;
          agentsn = input.freshAgentsn;
          await this.insertHost(agentsn, input);
        }
      }
      return { agentsn, conflict, tags: (await this.boundTags(agentsn)).join(',') };
    });
  }

  private async insertHost(agentsn: string, input: RegisterInput): Promise<void> {
    await this.run(
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

  private async boundTags(agentsn: string): Promise<string[]> {
    const rows = await this.all<{ t: string }>(
      `SELECT t.name || '=' || t.value AS t FROM hosts h JOIN hosts_tags ht ON ht.hostid = h.id JOIN tags t ON t.id = ht.tagid
       WHERE h.agentsn = ? ORDER BY t.name, t.value`,
      agentsn,
    );
    return rows.map((r) => r.t);
  }

  async hostIdentity(agentsn: string): Promise<HostIdentityRow | undefined> {
    return this.get<HostIdentityRow>(
      'SELECT hostname, status, cert_sha256, prev_cert_sha256 FROM hosts WHERE agentsn = ?',
      agentsn,
    );
  }

  async recordHostCertificate(agentsn: string, sha256: string, renewal: boolean): Promise<void> {
    await this.run(
      renewal
        ? `UPDATE hosts SET prev_cert_sha256 = cert_sha256, cert_sha256 = ? WHERE agentsn = ?`
        : `UPDATE hosts SET prev_cert_sha256 = NULL, cert_sha256 = ? WHERE agentsn = ?`,
      sha256,
      agentsn,
    );
  }

  async resetHost(agentsn: string, now: number): Promise<Mutation<{ reset: number }>> {
    const { changes } = await this.run(
      `UPDATE hosts SET credential_hash = '', cert_sha256 = '', prev_cert_sha256 = NULL, status = CASE WHEN status = 'deleted' THEN 'registered' ELSE status END, gmt_modify = ? WHERE agentsn = ?`,
      now,
      agentsn,
    );
    if (!changes) return notFound(`no host ${agentsn}`);
    return { ok: true, value: { reset: changes } };
  }

  async addServerEvent(
    agentsn: string,
    kind: string,
    message: string,
    data: Record<string, unknown>,
    now: number,
  ): Promise<void> {
    await this.run(
      `INSERT INTO events(agentsn, category, localid, occurred, kind, message, data, gmt_create)
       VALUES (?, 0, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      agentsn,
      -now,
      Math.floor(now / 1000),
      kind,
      message,
      JSON.stringify(data),
      now,
    );
  }

  async credentialHash(agentsn: string): Promise<string | undefined> {
    return (
      await this.get<{ credential_hash: string }>(
        this.sql.prepared('SELECT credential_hash FROM hosts WHERE agentsn = ?'),
        agentsn,
      )
    )?.credential_hash;
  }

  /**
   * The hostname a push may store (docs/security.md "Host identity"): its own, unless that is a
   * rename to a hostname another non-deleted host holds; then the old one is kept and a `refused`
   * server event recorded, so a host cannot take another's Polaris name by copying it.
   */
  private async pushHostname(input: StatusInput): Promise<string> {
    const current = (
      await this.get<{ hostname: string }>(
        this.sql.prepared('SELECT hostname FROM hosts WHERE agentsn = ?'),
        input.agentsn,
      )
    )?.hostname;
    if (current === undefined || current === input.hostname) return input.hostname;
    const holder = (
      await this.get<{ agentsn: string }>(
        `SELECT agentsn FROM hosts WHERE hostname = ? AND agentsn != ? AND status != 'deleted' LIMIT 1`,
        input.hostname,
        input.agentsn,
      )
    )?.agentsn;
    if (holder === undefined) return input.hostname;
    const r = hostnameRefusal(input, current, holder);
    await this.run(
      `INSERT INTO events(agentsn, category, localid, occurred, kind, message, data, gmt_create) VALUES (?, 0, ?, ?, 'refused', ?, ?, ?) ON CONFLICT DO NOTHING`,
      input.agentsn,
      -input.now,
      Math.floor(input.now / 1000),
      r.message,
      JSON.stringify(r.data),
      input.now,
    );
    return current;
  }

  async ingestStatus(input: StatusInput): Promise<StatusOutcome> {
    const reportedTags = parseTags(input.tags).join(',');
    return this.tx(async () => {
      const now = input.now;
      const hostname = await this.pushHostname(input);
      await this.run(
        this.sql.prepared(`UPDATE hosts SET hostname = ?, ipaddr = ?, step = ?, os = ?, arch = ?,
           prevers = CASE WHEN curvers IS NOT NULL AND curvers != ? THEN curvers ELSE prevers END,
           curvers = ?, uptime = ?, agents = ?, reported_tags = ?, last_seen = ?,
           gmt_modify = CASE WHEN status != 'online' THEN ? ELSE gmt_modify END, status = 'online'
         WHERE agentsn = ?`),
        hostname,
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
        eventsStored += (
          await this.run(
            this.sql.prepared(`INSERT INTO events(agentsn, category, localid, occurred, kind, agent, message, data, gmt_create)
             VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
            input.agentsn,
            e.localid,
            e.occurred,
            e.kind,
            e.agent ?? null,
            e.message,
            e.data === undefined ? null : JSON.stringify(e.data),
            now,
          )
        ).changes;
      }

      if (input.eventsDropped) {
        const total = (
          await this.get<{ events_dropped: number }>(
            'UPDATE hosts SET events_dropped = events_dropped + ?, events_dropped_at = ? WHERE agentsn = ? RETURNING events_dropped',
            input.eventsDropped,
            now,
            input.agentsn,
          )
        )?.events_dropped;
        if (total !== undefined) {
          eventsStored += (
            await this.run(
              `INSERT INTO events(agentsn, category, localid, occurred, kind, message, data, gmt_create)
               VALUES (?, 0, ?, ?, 'events_dropped', ?, ?, ?) ON CONFLICT DO NOTHING`,
              input.agentsn,
              -total,
              Math.floor(now / 1000),
              `agent dropped ${input.eventsDropped} events (queue full); ${total} in total`,
              JSON.stringify({ dropped: input.eventsDropped, total }),
              now,
            )
          ).changes;
        }
      }

      const touched = new Set<number>();
      let resultsRecorded = 0;
      for (const r of input.jobs) {
        const tid = await this.tasks.applyResult(r.id, input.agentsn, r.errcode, r.message, now);
        if (tid !== undefined) {
          touched.add(tid);
          resultsRecorded++;
        }
      }

      const active = await this.tasks.activeTagTasks(now);
      if (active.length > 0) {
        const hostTags = new Set([...parseTags(reportedTags), ...(await this.boundTags(input.agentsn))]);
        for (const t of active) {
          if (!tagsMatch(t.selector, hostTags)) continue;
          const task = await this.tasks.taskRow(t.id);
          if (!task) continue;
          if (await this.tasks.insertSubtask(task, input.agentsn, now)) {
            await this.run('UPDATE tasks SET count = count + 1, gmt_modify = ? WHERE id = ?', now, t.id);
            touched.add(t.id);
          }
        }
      }
      for (const tid of [...touched].sort((a, b) => a - b)) await this.tasks.admitTask(tid, now);
      await this.run(
        this.sql.prepared(
          `UPDATE subtasks SET state = 'READY', gmt_modify = ? WHERE agentsn = ? AND state = 'DELAYED' AND ready_at <= ?`,
        ),
        now,
        input.agentsn,
        now,
      );

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
         WHERE s.agentsn = ? AND s.state = 'READY' ORDER BY t.priority, s.taskid, s.gmt_create, s.seq LIMIT 64
         FOR UPDATE OF s SKIP LOCKED`),
        input.agentsn,
      );
      for (const s of ready) {
        if (s.attempts === 0 && s.expires_at !== null && s.expires_at <= now) {
          await this.tasks.expireOne(s.id, now);
          touched.add(s.taskid);
          continue;
        }
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
      for (const tid of [...touched].sort((a, b) => a - b)) await this.tasks.refreshTask(tid, now);
      return { reserved, host: { os: input.os, arch: input.arch }, eventsStored, resultsRecorded };
    });
  }

  async markOffline(now: number, missedSteps: number): Promise<number> {
    const gone = await this.all<{ agentsn: string }>(
      `UPDATE hosts SET status = 'offline', gmt_modify = ? WHERE status = 'online' AND last_seen + step * 1000 * ? < ? RETURNING agentsn`,
      now,
      missedSteps,
      now,
    );
    return gone.length;
  }

  // ---------------------------------------------------------------- hosts

  async getHost(agentsn: string): Promise<HostRow | undefined> {
    const r = await this.get<Row>(`${HOST_SELECT} WHERE h.agentsn = ?`, agentsn);
    return r ? toHost(r) : undefined;
  }

  async listHosts(filter: HostFilter, paging: Paging): Promise<Page<HostRow>> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.status) where.push('h.status = ?'), params.push(filter.status);
    else where.push(`h.status != 'deleted'`);
    if (filter.region !== undefined) where.push('h.region = ?'), params.push(filter.region);
    if (filter.os) where.push('h.os = ?'), params.push(filter.os);
    if (filter.arch) where.push('h.arch = ?'), params.push(filter.arch);
    if (filter.version) where.push('h.curvers = ?'), params.push(filter.version);
    if (filter.hostname) where.push('h.hostname = ?'), params.push(filter.hostname);
    if (filter.search) {
      // A case-insensitive prefix match (SQLite's LIKE is; PostgreSQL's ILIKE), wildcards literal.
      const p = `${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      where.push(`(h.hostname ILIKE ? ESCAPE '\\' OR h.agentsn ILIKE ? ESCAPE '\\')`);
      params.push(p, p);
    }
    if (filter.tag) {
      const [pair] = parseTags(filter.tag);
      const i = pair!.indexOf('=');
      const name = i < 0 ? pair! : pair!.slice(0, i);
      const value = i < 0 ? '' : pair!.slice(i + 1);
      where.push(
        `(EXISTS (SELECT 1 FROM hosts_tags ht JOIN tags t ON t.id = ht.tagid WHERE ht.hostid = h.id AND t.name = ? AND t.value = ?)
          OR strpos(',' || h.reported_tags || ',', ?) > 0)`,
      );
      params.push(name, value, `,${pair},`);
    }
    return this.page('hosts', HOST_SELECT, where, params, paging, toHost);
  }

  async setHostRegion(agentsns: string[], region: number, now: number): Promise<Mutation<{ updated: number }>> {
    void now;
    return this.tx(async () => {
      if (!(await this.get('SELECT 1 AS x FROM regions WHERE id = ?', region))) return notFound(`no region ${region}`);
      let updated = 0;
      for (const sn of agentsns)
        updated += (await this.run('UPDATE hosts SET region = ? WHERE agentsn = ?', region, sn)).changes;
      return { ok: true as const, value: { updated } };
    });
  }

  async deleteHost(agentsn: string, now: number): Promise<Mutation<{ deleted: number }>> {
    const { changes } = await this.run(
      `UPDATE hosts SET status = 'deleted', gmt_modify = ? WHERE agentsn = ? AND status != 'deleted'`,
      now,
      agentsn,
    );
    if (!changes && !(await this.get('SELECT 1 AS x FROM hosts WHERE agentsn = ?', agentsn)))
      return notFound(`no host ${agentsn}`);
    return { ok: true, value: { deleted: changes } };
  }

  // ---------------------------------------------------------------- delegated parts

  failReserved(jobid: string, errcode: number, message: string, now: number): Promise<void> {
    return this.tasks.failReserved(jobid, errcode, message, now);
  }
  createTask(spec: TaskSpec, now: number): Promise<CreatedTask> {
    return this.tasks.createTask(spec, now);
  }
  getTask(
    id: number,
    filter?: { state?: string },
  ): Promise<{ task: TaskRow; subtasks: SubtaskRow[]; states: Record<string, number> } | undefined> {
    return this.tasks.getTask(id, filter);
  }
  listTasks(filter: { status?: string; command?: string }, paging: Paging): Promise<Page<TaskRow>> {
    return this.tasks.listTasks(filter, paging);
  }
  unknownTargets(agents: readonly string[], taskIds: readonly number[]): Promise<UnknownTargets> {
    return this.tasks.unknownTargets(agents, taskIds);
  }
  revokeTask(id: number, now: number): Promise<Mutation<{ revoked: number; cancelling: number }>> {
    return this.tasks.revokeTask(id, now);
  }
  revokeSubtask(
    taskid: number,
    subtaskId: string,
    now: number,
  ): Promise<Mutation<{ revoked: number; cancelling: number }>> {
    return this.tasks.revokeSubtask(taskid, subtaskId, now);
  }
  revokedReserved(agentsn: string): Promise<RevokedReserved[]> {
    return this.tasks.revokedReserved(agentsn);
  }
  kickTask(id: number, now: number, subtaskId?: string): Promise<Mutation<{ kicked: number }>> {
    return this.tasks.kickTask(id, now, subtaskId);
  }
  touchSubtask(taskid: number, subtaskId: string, now: number): Promise<Mutation<{ touched: number }>> {
    return this.tasks.touchSubtask(taskid, subtaskId, now);
  }
  retrySubtask(taskid: number, subtaskId: string, now: number): Promise<Mutation<{ retried: number; state: string }>> {
    return this.tasks.retrySubtask(taskid, subtaskId, now);
  }
  retryTask(id: number, now: number): Promise<Mutation<{ retried: number }>> {
    return this.tasks.retryTask(id, now);
  }
  tick(now: number): Promise<TickOutcome> {
    return this.tasks.tick(now);
  }
  listTags(filter: { name?: string }, paging: Paging): Promise<Page<TagRow>> {
    return this.inventory.listTags(filter, paging);
  }
  createTag(name: string, value: string, now: number): Promise<Mutation<TagRow>> {
    return this.inventory.createTag(name, value, now);
  }
  updateTag(id: number, name: string, value: string, now: number): Promise<Mutation<TagRow>> {
    return this.inventory.updateTag(id, name, value, now);
  }
  deleteTag(id: number): Promise<Mutation<{ deleted: number }>> {
    return this.inventory.deleteTag(id);
  }
  bindTag(
    tagid: number,
    agentsns: string[],
    bind: boolean,
    now: number,
  ): Promise<Mutation<{ changed: number; unknown: string[] }>> {
    return this.inventory.bindTag(tagid, agentsns, bind, now);
  }
  listRegions(paging: Paging): Promise<Page<RegionRow>> {
    return this.inventory.listRegions(paging);
  }
  createRegion(name: string, now: number): Promise<Mutation<RegionRow>> {
    return this.inventory.createRegion(name, now);
  }
  updateRegion(id: number, name: string, now: number): Promise<Mutation<RegionRow>> {
    return this.inventory.updateRegion(id, name, now);
  }
  deleteRegion(id: number): Promise<Mutation<{ deleted: number }>> {
    return this.inventory.deleteRegion(id);
  }
  listEvents(filter: EventFilter, paging: Paging): Promise<Page<EventRow>> {
    return this.inventory.listEvents(filter, paging);
  }
  pruneEvents(before: number): Promise<number> {
    return this.inventory.pruneEvents(before);
  }
  computeDashboard(now: number): Promise<Dashboard> {
    return this.inventory.computeDashboard(now);
  }
  /** The newest subtasks of one host with their task's command and status (console host page). */
  async hostSubtasks(agentsn: string, limit: number): Promise<HostSubtaskRow[]> {
    return this.all<HostSubtaskRow>(
      `SELECT s.taskid, t.command, t.status AS task_status, s.id AS subtask, s.state, s.errcode, s.message, s.gmt_modify
         FROM subtasks s JOIN tasks t ON t.id = s.taskid WHERE s.agentsn = ? ORDER BY s.taskid DESC LIMIT ?`,
      agentsn,
      limit,
    );
  }
  async metricCounts(): Promise<{ hosts: Record<string, number>; subtasks: Record<string, number> }> {
    const count = async (sql: string) =>
      Object.fromEntries((await this.all<{ k: string; n: number }>(sql)).map((r) => [r.k, r.n]));
    return {
      hosts: await count('SELECT status AS k, COUNT(*) AS n FROM hosts GROUP BY status'),
      subtasks: await count('SELECT state AS k, COUNT(*) AS n FROM subtasks GROUP BY state'),
    };
  }
  createToken(name: string, hash: string, now: number, grant?: { role: string; scope: string }): Promise<number> {
    return this.operators.createToken(name, hash, now, grant);
  }
  listTokens(): Promise<TokenRow[]> {
    return this.operators.listTokens();
  }
  deleteTokens(name: string): Promise<number> {
    return this.operators.deleteTokens(name);
  }
  tokenGrant(hash: string, now: number): Promise<TokenGrant | undefined> {
    return this.operators.tokenGrant(hash, now);
  }
  appendAudit(e: AuditEntry): Promise<number> {
    return this.operators.appendAudit(e);
  }
  listAudit(filter: AuditFilter, paging: Paging): Promise<Page<AuditRow>> {
    return this.operators.listAudit(filter, paging);
  }
  pruneAudit(before: number): Promise<number> {
    return this.operators.pruneAudit(before);
  }
  addTaskResult(r: TaskResultInput, keep: number): Promise<void> {
    return this.taskResults.addTaskResult(r, keep);
  }
  listTaskResults(filter: TaskResultFilter): Promise<TaskResultRow[]> {
    return this.taskResults.listTaskResults(filter);
  }
  pruneTaskResults(before: number): Promise<number> {
    return this.taskResults.pruneTaskResults(before);
  }
  insertPackage(p: Omit<PackageRow, 'id' | 'gmt_create' | 'gmt_modify'>, now: number): Promise<Mutation<PackageRow>> {
    return this.packages.insertPackage(p, now);
  }
  getPackage(id: number): Promise<PackageRow | undefined> {
    return this.packages.getPackage(id);
  }
  findPackage(name: string, version: string, os?: string, arch?: string): Promise<PackageRow | undefined> {
    return this.packages.findPackage(name, version, os, arch);
  }
  listPackages(filter: PackageFilter, paging: Paging): Promise<Page<PackageRow>> {
    return this.packages.listPackages(filter, paging);
  }
  deletePackages(filter: PackageFilter): Promise<PackageRow[]> {
    return this.packages.deletePackages(filter);
  }
}

function toHost(r: Row): HostRow {
  const { credential_hash: _omit, cert_sha256: _cert, prev_cert_sha256: _prev, bound, ...rest } = r;
  return {
    ...(rest as unknown as HostRow),
    agents: JSON.parse((r.agents as string) || '[]') as AgentReport[],
    tags: typeof bound === 'string' && bound ? bound.split(',') : [],
  };
}
