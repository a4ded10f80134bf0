/**
 * PostgreSQL implementation of Store on `pg` (node-postgres). Same tables, statements and
 * rules as ../sqlite-store.ts, with what several nodes sharing one database need: no
 * per-process cache of what another node may change (the quiet-push fingerprints and the tag
 * task cache of the SQLite store are single-writer shortcuts; here a quiet push is decided by
 * one read, and only its last_seen/uptime are held, quiet-pushes.ts), row locks where a subtask
 * is reserved, and migrations under an advisory lock. This file only composes the parts beside it,
 * one per part interface of ../store.ts: hosts.ts, status-ingestion.ts (with host-jobs.ts, the
 * task queue's side of a push), task-queue.ts, events.ts, inventory.ts, packages.ts,
 * operators.ts, task-results.ts, policy.ts.
 */
import { randomBytes } from 'node:crypto';
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
import type { PgConnection } from './connection.ts';
import { PgDb, PgPart } from './db.ts';
import { PgEvents } from './events.ts';
import { PgHostJobs } from './host-jobs.ts';
import { PgHosts } from './hosts.ts';
import { PgInventory } from './inventory.ts';
import { PgOperators } from './operators.ts';
import { PgPackages } from './packages.ts';
import { PgPolicy } from './policy.ts';
import { PgQuietPushes } from './quiet-pushes.ts';
import { PgStatusIngestion } from './status-ingestion.ts';
import { PgTaskQueue } from './task-queue.ts';
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

export class PostgresStore extends PgPart implements Store {
  private readonly hosts: PgHosts;
  private readonly ingestion: PgStatusIngestion;
  private readonly tasks: PgTaskQueue;
  private readonly events: PgEvents;
  private readonly inventory: PgInventory;
  private readonly packages: PgPackages;
  private readonly taskResults: PgTaskResults;
  private readonly operators: PgOperators;
  private readonly quiet: PgQuietPushes;
  readonly policy: PgPolicy;
  private closing: Promise<void> | undefined;

  constructor(db: PgDb) {
    super(db);
    this.quiet = new PgQuietPushes(db);
    this.hosts = new PgHosts(db, this.quiet);
    this.tasks = new PgTaskQueue(db);
    this.ingestion = new PgStatusIngestion(
      db,
      this.hosts,
      new PgHostJobs(db, this.tasks),
      this.quiet,
      this.tasks.noRevoked,
    );
    this.events = new PgEvents(db);
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

  /** Writes the held quiet pushes (./quiet-pushes.ts) before the pool ends. */
  close(): Promise<void> {
    this.closing ??= this.quiet
      .close()
      .catch(() => undefined)
      .then(() => this.sql.close());
    return this.closing;
  }

  /** Write the held last_seen/uptime of quiet pushes now (./quiet-pushes.ts). */
  flushSeen(): Promise<void> {
    return this.quiet.flush();
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

  // ---------------------------------------------------------------- hosts, status ingestion, events

  register(input: RegisterInput): Promise<RegisterOutcome> {
    return this.hosts.register(input);
  }
  credentialHash(agentsn: string): Promise<string | undefined> {
    return this.hosts.credentialHash(agentsn);
  }
  hostIdentity(agentsn: string): Promise<HostIdentityRow | undefined> {
    return this.hosts.hostIdentity(agentsn);
  }
  resetHost(agentsn: string, now: number): Promise<Mutation<{ reset: number }>> {
    return this.hosts.resetHost(agentsn, now);
  }
  recordHostCertificate(agentsn: string, sha256: string, renewal: boolean): Promise<void> {
    return this.hosts.recordHostCertificate(agentsn, sha256, renewal);
  }
  markOffline(now: number, missedSteps: number): Promise<number> {
    return this.hosts.markOffline(now, missedSteps);
  }
  getHost(agentsn: string): Promise<HostRow | undefined> {
    return this.hosts.getHost(agentsn);
  }
  listHosts(filter: HostFilter, paging: Paging): Promise<Page<HostRow>> {
    return this.hosts.listHosts(filter, paging);
  }
  setHostRegion(agentsns: string[], region: number, now: number): Promise<Mutation<{ updated: number }>> {
    return this.hosts.setHostRegion(agentsns, region, now);
  }
  deleteHost(agentsn: string, now: number): Promise<Mutation<{ deleted: number }>> {
    return this.hosts.deleteHost(agentsn, now);
  }
  hostSubtasks(agentsn: string, limit: number): Promise<HostSubtaskRow[]> {
    return this.hosts.hostSubtasks(agentsn, limit);
  }
  ingestStatus(input: StatusInput): Promise<StatusOutcome> {
    return this.ingestion.ingestStatus(input);
  }
  addServerEvent(
    agentsn: string,
    kind: string,
    message: string,
    data: Record<string, unknown>,
    now: number,
  ): Promise<void> {
    return this.events.addServerEvent(agentsn, kind, message, data, now);
  }
  metricCounts(): Promise<{ hosts: Record<string, number>; subtasks: Record<string, number> }> {
    return this.inventory.metricCounts();
  }

  // ---------------------------------------------------------------- the other parts

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
    return this.events.listEvents(filter, paging);
  }
  pruneEvents(before: number): Promise<number> {
    return this.events.pruneEvents(before);
  }
  computeDashboard(now: number): Promise<Dashboard> {
    return this.inventory.computeDashboard(now);
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
