/**
 * SQLite implementation of Store on node:sqlite (built into Node 24: no native addon, so the
 * server ships as a single executable). WAL journal, one connection = one writer, prepared
 * statements cached by text, every operation one transaction. This file only composes the
 * parts in ./sqlite/, one per part interface of store.ts, over the same connection: hosts.ts,
 * status-ingestion.ts (with host-jobs.ts, the task queue's side of a push, and quiet-pushes.ts),
 * task-queue.ts, events.ts, inventory.ts, packages.ts, operators.ts, task-results.ts, policy.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqliteDb, SqlitePart } from './sqlite/base.ts';
import { SqliteEvents } from './sqlite/events.ts';
import { SqliteHostJobs } from './sqlite/host-jobs.ts';
import { SqliteHosts } from './sqlite/hosts.ts';
import { SqliteInventory } from './sqlite/inventory.ts';
import { SqliteOperators } from './sqlite/operators.ts';
import { SqlitePackages } from './sqlite/packages.ts';
import { SqlitePolicy } from './sqlite/policy.ts';
import { QuietPushes } from './sqlite/quiet-pushes.ts';
import { SqliteStatusIngestion } from './sqlite/status-ingestion.ts';
import { SqliteTaskQueue } from './sqlite/task-queue.ts';
import { SqliteTaskResults } from './sqlite/task-results.ts';
import type {
  AuditEntry,
  AuditFilter,
  AuditRow,
  CreatedTask,
  Dashboard,
  EventFilter,
  EventRow,
  HostFilter,
  HostIdentityRow,
  HostRow,
  HostSubtaskRow,
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
} from './store.ts';

export function openSqliteStore(path: string): SqliteStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  return new SqliteStore(new DatabaseSync(path));
}

export class SqliteStore extends SqlitePart implements Store {
  private readonly quiet: QuietPushes;
  private readonly hosts: SqliteHosts;
  private readonly ingestion: SqliteStatusIngestion;
  private readonly tasks: SqliteTaskQueue;
  private readonly events: SqliteEvents;
  private readonly inventory: SqliteInventory;
  private readonly packages: SqlitePackages;
  private readonly taskResults: SqliteTaskResults;
  private readonly operators: SqliteOperators;
  readonly policy: SqlitePolicy;

  constructor(db: DatabaseSync) {
    super(new SqliteDb(db));
    this.quiet = new QuietPushes(this.sql);
    this.hosts = new SqliteHosts(this.sql, this.quiet);
    this.tasks = new SqliteTaskQueue(this.sql);
    this.ingestion = new SqliteStatusIngestion(
      this.sql,
      this.quiet,
      this.hosts,
      new SqliteHostJobs(this.sql, this.tasks),
    );
    this.events = new SqliteEvents(this.sql);
    this.inventory = new SqliteInventory(this.sql);
    this.packages = new SqlitePackages(this.sql);
    this.taskResults = new SqliteTaskResults(this.sql);
    this.operators = new SqliteOperators(this.sql);
    this.policy = new SqlitePolicy(this.sql);
  }

  close(): void {
    if (this.sql.db.isOpen) this.quiet.flushIfRoom();
    this.sql.close();
  }

  /** Schema versions applied, for tests and `aspire` diagnostics. */
  appliedMigrations(): number[] {
    return this.sql.appliedMigrations();
  }

  /** Write the buffered last_seen/uptime of quiet pushes now (./sqlite/quiet-pushes.ts). */
  flushSeen(): void {
    this.quiet.flush();
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
