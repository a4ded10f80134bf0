/**
 * SQLite implementation of Store on node:sqlite (built into Node 24: no native addon, so the
 * server ships as a single executable). WAL journal, one connection = one writer, prepared
 * statements cached by text, every operation one transaction. This file holds the agent side
 * (registration, the status transaction, hosts); the task queue, inventory and packages are
 * parts in ./sqlite/ over the same connection.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { HostStatus, type AgentReport } from '@aspire/protocol';
import { parseTags, tagsMatch } from '../tasks/state-machine.ts';
import { notFound, SqliteDb, SqlitePart, type Param, type Row } from './sqlite/base.ts';
import { SqliteInventory } from './sqlite/inventory.ts';
import { SqliteOperators } from './sqlite/operators.ts';
import { SqlitePackages } from './sqlite/packages.ts';
import { SqlitePolicy } from './sqlite/policy.ts';
import { SqliteTaskQueue } from './sqlite/task-queue.ts';
import { SqliteTaskResults } from './sqlite/task-results.ts';
import { hostnameRefusal } from './hostname-claim.ts';
import { isStorageFull } from './storage-full.ts';
import type {
  AuditEntry,
  UnknownTargets,
  RevokedReserved,
  AuditFilter,
  AuditRow,
  HostSubtaskRow,
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
  HostIdentityRow,
  ReservedJob,
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
  CreatedTask,
} from './store.ts';

/** A quiet push's last_seen reaches the database at most this late (or after this many hosts). */
const QUIET_FLUSH_MS = 1000;
const QUIET_FLUSH_MAX = 1000;

export function openSqliteStore(path: string): SqliteStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  return new SqliteStore(new DatabaseSync(path));
}

export class SqliteStore extends SqlitePart implements Store {
  private readonly tasks: SqliteTaskQueue;
  private readonly inventory: SqliteInventory;
  private readonly packages: SqlitePackages;
  private readonly taskResults: SqliteTaskResults;
  private readonly operators: SqliteOperators;
  readonly policy: SqlitePolicy;
  /**
   * Fingerprint of what each host's row holds since its last full write, so a push that only
   * says "still here" (same fields, no results, no events, nothing to hand out) costs a read
   * and a buffered last_seen instead of a write transaction. Most pushes of a fleet are those.
   */
  private readonly written = new Map<string, string>();
  /**
   * last_seen and uptime of quiet pushes, written together (at most QUIET_FLUSH_MS late). Each
   * was answered 200, so an entry leaves only once it is written: on a full disk it stays (the
   * newest push of a host replacing the older one), reads and the offline sweep see it, and the
   * first write that succeeds after space returns stores it.
   */
  private readonly seen = new Map<string, { lastSeen: number; uptime: number }>();
  private seenSince = 0;

  constructor(db: DatabaseSync) {
    super(new SqliteDb(db));
    this.tasks = new SqliteTaskQueue(this.sql);
    this.inventory = new SqliteInventory(this.sql);
    this.packages = new SqlitePackages(this.sql);
    this.taskResults = new SqliteTaskResults(this.sql);
    this.operators = new SqliteOperators(this.sql);
    this.policy = new SqlitePolicy(this.sql);
  }

  close(): void {
    if (this.sql.db.isOpen) this.flushSeenIfRoom();
    this.sql.close();
  }

  /** Schema versions applied, for tests and `aspire` diagnostics. */
  appliedMigrations(): number[] {
    return this.sql.appliedMigrations();
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
        // The same host asking again proves it with its credential, or an operator reset the
        // host (credential cleared). The same hostname without proof is refused: with the enroll
        // secret alone it would take the host over (issue 16 item 6). Another hostname gets a
        // fresh AgentSN (seed conflict rule). A deleted host stays deleted until a reset.
        const proven =
          existing.credential_hash === '' ||
          (input.presentedHash !== undefined && input.presentedHash === existing.credential_hash);
        if (existing.status === HostStatus.DELETED && (proven || existing.hostname === input.hostname)) {
          return { agentsn, conflict: false, tags: '', refused: 'deleted' as const };
        }
        if (!proven && existing.hostname === input.hostname)
          return { agentsn, conflict: false, tags: '', refused: 'takeover' as const };
        if (proven) {
          this.run(
            'UPDATE hosts SET credential_hash = ?, ipaddr = ? WHERE id = ?',
            input.newHash,
            input.ip,
            existing.id,
          );
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

  async hostIdentity(agentsn: string): Promise<HostIdentityRow | undefined> {
    return this.get<HostIdentityRow>(
      'SELECT hostname, status, cert_sha256, prev_cert_sha256 FROM hosts WHERE agentsn = ?',
      agentsn,
    );
  }

  async recordHostCertificate(agentsn: string, sha256: string, renewal: boolean): Promise<void> {
    this.run(
      renewal
        ? `UPDATE hosts SET prev_cert_sha256 = cert_sha256, cert_sha256 = ? WHERE agentsn = ?`
        : `UPDATE hosts SET prev_cert_sha256 = NULL, cert_sha256 = ? WHERE agentsn = ?`,
      sha256,
      agentsn,
    );
  }

  async resetHost(agentsn: string, now: number): Promise<Mutation<{ reset: number }>> {
    const { changes } = this.run(
      `UPDATE hosts SET credential_hash = '', cert_sha256 = '', prev_cert_sha256 = NULL, status = CASE WHEN status = 'deleted' THEN 'registered' ELSE status END, gmt_modify = ? WHERE agentsn = ?`,
      now,
      agentsn,
    );
    if (!changes) return notFound(`no host ${agentsn}`);
    this.written.delete(agentsn);
    return { ok: true, value: { reset: changes } };
  }

  async addServerEvent(
    agentsn: string,
    kind: string,
    message: string,
    data: Record<string, unknown>,
    now: number,
  ): Promise<void> {
    // Server events use negative localids (agent events start at 1); -now is unique enough per host.
    this.run(
      `INSERT OR IGNORE INTO events(agentsn, category, localid, occurred, kind, message, data, gmt_create)
       VALUES (?, 0, ?, ?, ?, ?, ?, ?)`,
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
    return this.get<{ credential_hash: string }>('SELECT credential_hash FROM hosts WHERE agentsn = ?', agentsn)
      ?.credential_hash;
  }

  async ingestStatus(input: StatusInput): Promise<StatusOutcome> {
    const reportedTags = parseTags(input.tags).join(',');
    // Serialised once: the fingerprint and the stored column use the same text.
    const agentsJson = JSON.stringify(input.agents);
    const fp = createHash('sha1')
      .update(JSON.stringify([input.hostname, input.ip, input.step, input.os, input.arch, input.version, reportedTags]))
      .update(agentsJson)
      .digest('base64');
    if (this.isQuiet(input, fp)) {
      if (this.seen.size === 0) this.seenSince = input.now;
      this.seen.set(input.agentsn, { lastSeen: input.now, uptime: input.uptime });
      if (input.now - this.seenSince >= QUIET_FLUSH_MS || this.seen.size >= QUIET_FLUSH_MAX)
        this.flushSeenIfRoom(input.now);
      return { reserved: [], host: { os: input.os, arch: input.arch }, eventsStored: 0, resultsRecorded: 0 };
    }
    // Answered once the batch it joined is committed (group commit, ./sqlite/group-commit.ts).
    const out = await this.sql.grouped(() => this.writeStatus(input, reportedTags, agentsJson));
    // Only now: had the write failed, the buffered (answered) values of this host stay held.
    this.seen.delete(input.agentsn);
    this.written.set(input.agentsn, fp);
    return out;
  }

  /** Nothing to record and nothing to hand out: only last_seen and uptime change. */
  private isQuiet(input: StatusInput, fp: string): boolean {
    if (input.jobs.length > 0 || input.events.length > 0 || input.eventsDropped) return false;
    if (this.written.get(input.agentsn) !== fp) return false;
    const active = this.tasks.activeTagTasks(input.now);
    if (active.length > 0) {
      // A tag task this host matches and has no subtask of yet needs the full transaction.
      const hostTags = new Set([...parseTags(input.tags), ...this.boundTags(input.agentsn)]);
      for (const t of active) {
        if (
          tagsMatch(t.selector, hostTags) &&
          !this.get('SELECT 1 AS x FROM subtasks WHERE taskid = ? AND agentsn = ?', t.id, input.agentsn)
        )
          return false;
      }
    }
    return !this.get(
      `SELECT 1 AS x FROM subtasks WHERE agentsn = ? AND (state = 'READY' OR (state = 'DELAYED' AND ready_at <= ?)) LIMIT 1`,
      input.agentsn,
      input.now,
    );
  }

  /**
   * Write the buffered last_seen/uptime of quiet pushes in one transaction. The buffer is
   * emptied only after the commit (the transaction is synchronous: no push lands in between),
   * so a failed write loses nothing that was answered.
   */
  flushSeen(): void {
    if (this.seen.size === 0) return;
    this.tx(() => {
      for (const [sn, v] of this.seen) {
        this.run(
          'UPDATE hosts SET last_seen = ?, uptime = ? WHERE agentsn = ? AND last_seen < ?',
          v.lastSeen,
          v.uptime,
          sn,
          v.lastSeen,
        );
      }
    });
    this.seen.clear();
  }

  /**
   * flushSeen(), but a full disk is no failure of the caller: the values stay buffered (and
   * are retried QUIET_FLUSH_MS later). False when they could not be written.
   */
  private flushSeenIfRoom(now?: number): boolean {
    try {
      this.flushSeen();
      return true;
    } catch (err) {
      if (!isStorageFull(err)) throw err;
      if (now !== undefined) this.seenSince = now;
      return false;
    }
  }

  /** A host row as answered: with its buffered last_seen/uptime when those are not written yet. */
  private withSeen(host: HostRow): HostRow {
    const held = this.seen.get(host.agentsn);
    if (held === undefined || (host.last_seen !== null && host.last_seen >= held.lastSeen)) return host;
    return { ...host, last_seen: held.lastSeen, uptime: held.uptime };
  }

  /**
   * The hostname a push may store (docs/security.md "Host identity"): its own, unless that is a
   * rename to a hostname another non-deleted host holds; then the old one is kept and a `refused`
   * server event recorded, so a host cannot take another's Polaris name by copying it.
   */
  private pushHostname(input: StatusInput): string {
    const current = this.get<{ hostname: string }>(
      'SELECT hostname FROM hosts WHERE agentsn = ?',
      input.agentsn,
    )?.hostname;
    if (current === undefined || current === input.hostname) return input.hostname;
    const holder = this.get<{ agentsn: string }>(
      `SELECT agentsn FROM hosts WHERE hostname = ? AND agentsn != ? AND status != 'deleted' LIMIT 1`,
      input.hostname,
      input.agentsn,
    )?.agentsn;
    if (holder === undefined) return input.hostname;
    const r = hostnameRefusal(input, current, holder);
    this.run(
      `INSERT OR IGNORE INTO events(agentsn, category, localid, occurred, kind, message, data, gmt_create) VALUES (?, 0, ?, ?, 'refused', ?, ?, ?)`,
      input.agentsn,
      -input.now,
      Math.floor(input.now / 1000),
      r.message,
      JSON.stringify(r.data),
      input.now,
    );
    return current;
  }

  /** The full write of one push; runs inside the batch's transaction (see ingestStatus). */
  private writeStatus(input: StatusInput, reportedTags: string, agentsJson: string): StatusOutcome {
    const now = input.now;
    const hostname = this.pushHostname(input);
    this.run(
      `UPDATE hosts SET hostname = ?, ipaddr = ?, step = ?, os = ?, arch = ?,
         prevers = CASE WHEN curvers IS NOT NULL AND curvers != ? THEN curvers ELSE prevers END,
         curvers = ?, uptime = ?, agents = ?, reported_tags = ?, last_seen = ?,
         gmt_modify = CASE WHEN status != 'online' THEN ? ELSE gmt_modify END, status = 'online'
       WHERE agentsn = ?`,
      hostname,
      input.ip,
      input.step,
      input.os,
      input.arch,
      input.version,
      input.version,
      input.uptime,
      agentsJson,
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
      // The agent's bounded queue overflowed: count it on the host and keep the fact as a
      // server-side event (category 0). Agent events have localid >= 1, so the negated running
      // total is a localid no agent event can take, and unique for every such push of the host.
      const total = this.get<{ events_dropped: number }>(
        'UPDATE hosts SET events_dropped = events_dropped + ?, events_dropped_at = ? WHERE agentsn = ? RETURNING events_dropped',
        input.eventsDropped,
        now,
        input.agentsn,
      )?.events_dropped;
      if (total !== undefined) {
        eventsStored += this.run(
          `INSERT OR IGNORE INTO events(agentsn, category, localid, occurred, kind, message, data, gmt_create)
           VALUES (?, 0, ?, ?, 'events_dropped', ?, ?, ?)`,
          input.agentsn,
          -total,
          Math.floor(now / 1000),
          `agent dropped ${input.eventsDropped} events (queue full); ${total} in total`,
          JSON.stringify({ dropped: input.eventsDropped, total }),
          now,
        ).changes;
      }
    }

    const touched = new Set<number>();
    let resultsRecorded = 0;
    for (const r of input.jobs) {
      const tid = this.tasks.applyResult(r.id, input.agentsn, r.errcode, r.message, now);
      if (tid !== undefined) {
        touched.add(tid);
        resultsRecorded++;
      }
    }

    // Tag tasks: a host whose tags match an open window gets one subtask, once (UNIQUE key).
    const active = this.tasks.activeTagTasks(now);
    if (active.length > 0) {
      const hostTags = new Set([...parseTags(reportedTags), ...this.boundTags(input.agentsn)]);
      for (const t of active) {
        if (!tagsMatch(t.selector, hostTags)) continue;
        const task = this.tasks.taskRow(t.id);
        if (!task) continue;
        if (this.tasks.insertSubtask(task, input.agentsn, now)) {
          this.run('UPDATE tasks SET count = count + 1, gmt_modify = ? WHERE id = ?', now, t.id);
          touched.add(t.id);
        }
      }
    }
    for (const tid of touched) this.tasks.admitTask(tid, now);
    this.run(
      `UPDATE subtasks SET state = 'READY', gmt_modify = ? WHERE agentsn = ? AND state = 'DELAYED' AND ready_at <= ?`,
      now,
      input.agentsn,
      now,
    );

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
       WHERE s.agentsn = ? AND s.state = 'READY' ORDER BY t.priority, s.taskid, s.gmt_create LIMIT 64`,
      input.agentsn,
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
    for (const tid of touched) this.tasks.refreshTask(tid, now);
    return { reserved, host: { os: input.os, arch: input.arch }, eventsStored, resultsRecorded };
  }

  /** Apply one reported job result; returns the task id when it changed a subtask. */
  async markOffline(now: number, missedSteps: number): Promise<number> {
    const gone = this.flushSeenIfRoom()
      ? this.all<{ agentsn: string }>(
          `UPDATE hosts SET status = 'offline', gmt_modify = ? WHERE status = 'online' AND last_seen + step * 1000 * ? < ? RETURNING agentsn`,
          now,
          missedSteps,
          now,
        )
      : this.markOfflineByHeld(now, missedSteps);
    // Their next push must go through the full write (status back to online).
    for (const g of gone) this.written.delete(g.agentsn);
    return gone.length;
  }

  /** The sweep while answered pushes are only buffered (full disk): judge those hosts by them. */
  private markOfflineByHeld(now: number, missedSteps: number): { agentsn: string }[] {
    const late = this.all<{ agentsn: string; step: number }>(
      `SELECT agentsn, step FROM hosts WHERE status = 'online' AND last_seen + step * 1000 * ? < ?`,
      missedSteps,
      now,
    ).filter((h) => {
      const held = this.seen.get(h.agentsn);
      return held === undefined || held.lastSeen + h.step * 1000 * missedSteps < now;
    });
    if (late.length === 0) return [];
    return this.tx(() =>
      late.filter(
        (h) =>
          this.run(
            `UPDATE hosts SET status = 'offline', gmt_modify = ? WHERE agentsn = ? AND status = 'online'`,
            now,
            h.agentsn,
          ).changes > 0,
      ),
    );
  }

  // ---------------------------------------------------------------- hosts

  private hostSelect = `SELECT h.*, r.name AS region_name,
      (SELECT GROUP_CONCAT(t.name || '=' || t.value, ',') FROM hosts_tags ht JOIN tags t ON t.id = ht.tagid WHERE ht.hostid = h.id) AS bound
    FROM hosts h LEFT JOIN regions r ON r.id = h.region`;

  async getHost(agentsn: string): Promise<HostRow | undefined> {
    this.flushSeenIfRoom();
    const r = this.get<Row>(`${this.hostSelect} WHERE h.agentsn = ?`, agentsn);
    return r ? this.withSeen(toHost(r)) : undefined;
  }

  async listHosts(filter: HostFilter, paging: Paging): Promise<Page<HostRow>> {
    this.flushSeenIfRoom();
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
    return this.page('hosts', this.hostSelect, where, params, paging, (r) => this.withSeen(toHost(r)));
  }

  async setHostRegion(agentsns: string[], region: number, now: number): Promise<Mutation<{ updated: number }>> {
    return this.tx(() => {
      if (!this.get('SELECT 1 AS x FROM regions WHERE id = ?', region)) return notFound(`no region ${region}`);
      let updated = 0;
      for (const sn of agentsns)
        updated += this.run('UPDATE hosts SET region = ? WHERE agentsn = ?', region, sn).changes;
      void now;
      return { ok: true as const, value: { updated } };
    });
  }

  async deleteHost(agentsn: string, now: number): Promise<Mutation<{ deleted: number }>> {
    this.written.delete(agentsn);
    const { changes } = this.run(
      `UPDATE hosts SET status = 'deleted', gmt_modify = ? WHERE agentsn = ? AND status != 'deleted'`,
      now,
      agentsn,
    );
    if (!changes && !this.get('SELECT 1 AS x FROM hosts WHERE agentsn = ?', agentsn))
      return notFound(`no host ${agentsn}`);
    return { ok: true, value: { deleted: changes } };
  }

  // ---------------------------------------------------------------- delegated parts

  failReserved(jobid: string, errcode: number, message: string, now: number): Promise<void> {
    return this.tasks.failReserved(jobid, errcode, message, now);
  }
  unknownTargets(agents: readonly string[], taskIds: readonly number[]): Promise<UnknownTargets> {
    return this.tasks.unknownTargets(agents, taskIds);
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
  async metricCounts(): Promise<{ hosts: Record<string, number>; subtasks: Record<string, number> }> {
    const count = (sql: string) => Object.fromEntries(this.all<{ k: string; n: number }>(sql).map((r) => [r.k, r.n]));
    return {
      hosts: count('SELECT status AS k, COUNT(*) AS n FROM hosts GROUP BY status'),
      subtasks: count('SELECT state AS k, COUNT(*) AS n FROM subtasks GROUP BY state'),
    };
  }
  async hostSubtasks(agentsn: string, limit: number): Promise<HostSubtaskRow[]> {
    return this.all<HostSubtaskRow>(
      `SELECT s.taskid, t.command, t.status AS task_status, s.id AS subtask, s.state, s.errcode, s.message, s.gmt_modify
         FROM subtasks s JOIN tasks t ON t.id = s.taskid WHERE s.agentsn = ? ORDER BY s.taskid DESC LIMIT ?`,
      agentsn,
      limit,
    );
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
