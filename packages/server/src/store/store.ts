/**
 * The server's storage seam. Operations are coarse (one transaction each) and async, so a
 * PostgreSQL implementation can follow the SQLite one without changing a caller. The task
 * rules live in ../tasks/state-machine.ts and are shared by every implementation.
 */
import type { AgentReport, AgentEvent, JobResult, SubtaskStateWord } from '@aspire/protocol';
import type { PolicyStore } from './policy-store.ts';

export interface Paging {
  offset: number;
  limit: number;
  order: 'asc' | 'desc';
  /** Already checked against the resource's whitelist: a column key, never raw input. */
  sortby: string;
}

export interface Page<T> {
  count: number;
  offset: number;
  limit: number;
  items: T[];
}

export interface HostRow {
  id: number;
  agentsn: string;
  hostname: string;
  ipaddr: string | null;
  region: number;
  region_name: string | null;
  status: string;
  step: number;
  os: string | null;
  arch: string | null;
  curvers: string | null;
  prevers: string | null;
  uptime: number | null;
  agents: AgentReport[];
  reported_tags: string;
  tags: string[];
  last_seen: number | null;
  /** Events the host's BootAgent dropped from its full queue, summed over every push that said so. */
  events_dropped: number;
  /** When a push last reported dropped events (unix ms), or null when none ever did. */
  events_dropped_at: number | null;
  gmt_create: number;
  gmt_modify: number;
}

export interface HostFilter {
  status?: string;
  region?: number;
  tag?: string;
  os?: string;
  arch?: string;
  version?: string;
  hostname?: string;
  /** Case-insensitive prefix of the hostname or the AgentSN (the console's search box). */
  search?: string;
}

export interface RegisterInput {
  agentsn: string;
  hostname: string;
  ip: string;
  version?: string;
  os?: string;
  arch?: string;
  /** Hash of the credential the request presented, if any. */
  presentedHash?: string;
  /** Hash of a freshly generated credential to store. */
  newHash: string;
  /** A fresh AgentSN to use when the asked one belongs to another host. */
  freshAgentsn: string;
  now: number;
}

export interface RegisterOutcome {
  agentsn: string;
  conflict: boolean;
  tags: string;
  /**
   * Set when nothing was registered: `takeover` = the agentsn belongs to a host with the same
   * hostname and the caller did not prove it is that host (issue 16 item 6); `deleted` = the
   * host was deleted by an operator (a reset brings it back).
   */
  refused?: 'takeover' | 'deleted';
}

/** What the hub checks at init: the host a certificate names, and whether it still exists. */
export interface HostIdentityRow {
  hostname: string;
  status: string;
  /**
   * SHA-256 (hex) of the client certificate issued last, and of the one before it (a renewal's
   * overlap). null: none recorded (any valid certificate for the agentsn); '': none valid (reset).
   */
  cert_sha256: string | null;
  prev_cert_sha256: string | null;
}

export interface StatusInput {
  agentsn: string;
  hostname: string;
  ip: string;
  version: string;
  os: string;
  arch: string;
  uptime: number;
  step: number;
  agents: AgentReport[];
  jobs: JobResult[];
  events: AgentEvent[];
  eventsDropped?: number;
  tags?: string;
  now: number;
}

/** A subtask reserved for a host: the route turns it into a job on the wire. */
export interface ReservedJob {
  subtaskId: string;
  jobid: string;
  taskid: number;
  command: string;
  parameters: Record<string, unknown>;
}

export interface StatusOutcome {
  reserved: ReservedJob[];
  host: { os: string; arch: string };
  eventsStored: number;
  resultsRecorded: number;
}

export interface TaskSpec {
  command: string;
  parameters: Record<string, unknown>;
  user?: string;
  agents?: string[];
  tags?: string;
  windowStart?: number;
  windowEnd?: number;
  delayMs: number;
  batch: number;
  retryCount: number;
  retryIntervalMs: number;
  ttlMs: number;
  ttrMs: number;
  /** Lower first (default 1024). */
  priority?: number;
  /** Absolute start (unix ms): no subtask is READY before it. */
  startAt?: number;
  /** batch as a percentage of the targets (then `batch` is ignored). */
  batchPct?: number | null;
  /** Failures allowed before the task halts (default 0); null = no limit. */
  maxErrors?: number | null;
  maxErrorsPct?: number | null;
  /** Ids of tasks this one runs after (per host); the route checks they exist (unknownTargets). */
  after?: number[];
  /** How long a BURIED subtask waits for a kick before it is FAILED. */
  buriedTtlMs?: number;
  /** Refuse the task whole when an AgentSN is unknown (nothing is made): POST /task without allow_unknown. */
  refuseUnknown?: boolean;
}

/**
 * A task made (`id`, one result per AgentSN), or, with spec.refuseUnknown, refused for the
 * unknown AgentSNs it names: `unknown` set, nothing made (`id` 0, no results).
 */
export interface CreatedTask {
  id: number;
  results: { AgentSN: string; errcode?: number }[];
  unknown?: string[];
}

export interface TaskRow {
  id: number;
  command: string;
  parameters: Record<string, unknown>;
  user: string | null;
  status: string;
  selector: 'agents' | 'tags';
  tags: string | null;
  window_start: number | null;
  window_end: number | null;
  delay_ms: number;
  batch: number;
  retry_count: number;
  retry_interval_ms: number;
  ttl_ms: number;
  ttr_ms: number;
  count: number;
  complete: number;
  priority: number;
  start_at: number | null;
  batch_pct: number | null;
  max_errors: number | null;
  max_errors_pct: number | null;
  /** Why the task halted (max_errors exceeded), or null. */
  halt_reason: string | null;
  /** Ids of the tasks it runs after. */
  after: number[];
  buried_ttl_ms: number;
  gmt_create: number;
  gmt_modify: number;
}

export interface SubtaskRow {
  id: string;
  taskid: number;
  agentsn: string;
  state: SubtaskStateWord;
  jobid: string | null;
  attempts: number;
  requeues: number;
  ready_at: number;
  expires_at: number | null;
  reserved_at: number | null;
  errcode: number | null;
  message: string | null;
  buried_at: number | null;
  /** A revoke asked while RESERVED: the host is told to cancel (docs/server.md). */
  revoke_requested_at: number | null;
  gmt_create: number;
  gmt_modify: number;
}

/** A RESERVED subtask whose revoke was asked and whose result has not arrived yet. */
export interface RevokedReserved {
  subtaskId: string;
  jobid: string;
  taskid: number;
}

/** AgentSNs and task ids a new task names that do not exist (checked before createTask). */
export interface UnknownTargets {
  hosts: string[];
  tasks: number[];
}

export interface PackageRow {
  id: number;
  name: string;
  version: string;
  os: string;
  arch: string;
  file: string;
  path: string;
  size: number;
  sha256: string;
  gmt_create: number;
  gmt_modify: number;
}

export interface PackageFilter {
  id?: number;
  name?: string;
  version?: string;
  os?: string;
  arch?: string;
}

export interface TagRow {
  id: number;
  name: string;
  value: string;
  hosts: number;
  gmt_create: number;
  gmt_modify: number;
}

export interface RegionRow {
  id: number;
  name: string;
  hosts: number;
  gmt_create: number;
  gmt_modify: number;
}

export interface EventRow {
  id: number;
  agentsn: string;
  category: number;
  localid: number;
  occurred: number;
  kind: string;
  agent: string | null;
  message: string;
  data: unknown;
  gmt_create: number;
}

export interface EventFilter {
  agentsn?: string;
  since?: number;
  until?: number;
  kind?: string;
}

export interface Dashboard {
  hosts: { total: number; online: number; offline: number; registered: number };
  agents: { name: string; deployed: number; online: number }[];
  computedAt: number;
}

/** One periodic-task run a BasicAgent reported over the command hub (task.result frame). */
export interface TaskResultInput {
  /** Hostname the agent sent in init; results are filed under it. */
  host: string;
  agentsn?: string;
  name: string;
  started: number;
  started_ms?: number;
  duration_ms: number;
  retcode: number;
  errcode?: number;
  message?: string;
  output: string;
  truncated?: boolean;
  skipped?: boolean;
  /** Arrival (unix ms). */
  received: number;
}

export interface TaskResultRow {
  host: string;
  agentsn: string | null;
  name: string;
  started: number;
  started_ms: number | null;
  duration_ms: number;
  retcode: number;
  errcode: number | null;
  message: string | null;
  output: string;
  truncated: boolean;
  skipped: boolean;
  received: number;
}

export interface TaskResultFilter {
  /** A hostname or an AgentSN. */
  host: string;
  name?: string;
  /** The newest `limit` rows are returned, oldest first. */
  limit: number;
}

export interface TickOutcome {
  expired: number;
  promoted: number;
  requeued: number;
  buried: number;
  admitted: number;
  completedTasks: number;
}

/** An operator token as the auth hook sees it (scope is the stored JSON, checked by the caller). */
export interface TokenGrant {
  name: string;
  role: string;
  scope: string;
}

export interface TokenRow {
  id: number;
  name: string;
  role: string;
  scope: string;
  gmt_create: number;
  last_used: number | null;
}

/** One audit row (docs/security.md "The audit log"); never a secret, never command output. */
export interface AuditEntry {
  /** unix ms */
  at: number;
  /** `dispatch`: written before a command goes to hosts; `result`: the answer (or refusal). */
  phase: 'dispatch' | 'result';
  /** Correlates the dispatch and result rows of one request. */
  request: string;
  token: string | null;
  source: string;
  method: string;
  route: string;
  targets: number | null;
  /** How the hosts were chosen: `hosts=a,b` or `tags=k=v`. */
  selector: string | null;
  command: string | null;
  run_as: string | null;
  /** HTTP status of the answer (result rows). */
  code: number | null;
  outcome: string | null;
}

/** A subtask of one host joined with its task (console host page: tasks that touched it). */
export interface HostSubtaskRow {
  taskid: number;
  command: string;
  task_status: string;
  subtask: string;
  state: string;
  errcode: number | null;
  message: string | null;
  gmt_modify: number;
}

export interface AuditRow extends AuditEntry {
  id: number;
}

export interface AuditFilter {
  token?: string;
  route?: string;
  /** unix ms, inclusive */
  since?: number;
  until?: number;
  /** Rows whose selector names this host. */
  agentsn?: string;
}

export type Mutation<T> =
  | { ok: true; value: T }
  | { ok: false; reason: 'not_found' | 'conflict' | 'bad_request'; cause: string };

export interface Store {
  close(): void;
  /** The product tree, host attachments and desired-state policies (policy-store.ts). */
  readonly policy: PolicyStore;
  /** A server-side secret kept with the data (HMAC key for package links), created once. */
  secret(key: string): Promise<string>;

  register(input: RegisterInput): Promise<RegisterOutcome>;
  /** The stored credential hash of a host, or undefined when the AgentSN is unknown. */
  credentialHash(agentsn: string): Promise<string | undefined>;
  /** Hostname and status of a host (undefined when the AgentSN is unknown). */
  hostIdentity(agentsn: string): Promise<HostIdentityRow | undefined>;
  /**
   * Operator reset of a host's registration: its credential is cleared (and a deleted host is
   * registered again), so the next /agent/register for this agentsn is accepted without proof.
   */
  resetHost(agentsn: string, now: number): Promise<Mutation<{ reset: number }>>;
  /**
   * Record the client certificate just issued to a host (SHA-256 of its DER, hex). `renewal`:
   * the current one becomes the previous (both accepted until the next issue); else (a
   * registration) the new one is the only one accepted.
   */
  recordHostCertificate(agentsn: string, sha256: string, renewal: boolean): Promise<void>;
  /** A server-side event (category 0) on a host, e.g. a refused channel identity. */
  addServerEvent(
    agentsn: string,
    kind: string,
    message: string,
    data: Record<string, unknown>,
    now: number,
  ): Promise<void>;
  ingestStatus(input: StatusInput): Promise<StatusOutcome>;
  /** Record a result decided by the server itself (e.g. a job it could not build). */
  failReserved(jobid: string, errcode: number, message: string, now: number): Promise<void>;
  markOffline(now: number, missedSteps: number): Promise<number>;

  /** Which of these AgentSNs and task ids do not exist (POST /task refuses them with 400). */
  unknownTargets(agents: readonly string[], taskIds: readonly number[]): Promise<UnknownTargets>;
  /**
   * Unknown AgentSNs get a FAILED subtask (TASK_HOST_UNKNOWN), or with spec.refuseUnknown nothing
   * is made and they are answered (found by the same set-based insert that splits the task).
   */
  createTask(spec: TaskSpec, now: number): Promise<CreatedTask>;
  /** A task, its subtasks (optionally only those in one state) and how many are in each state. */
  getTask(
    id: number,
    filter?: { state?: string },
  ): Promise<{ task: TaskRow; subtasks: SubtaskRow[]; states: Record<string, number> } | undefined>;
  listTasks(filter: { status?: string; command?: string }, paging: Paging): Promise<Page<TaskRow>>;
  /** Not RESERVED and not final -> REVOKED; RESERVED ones are marked (`cancelling`) for the host to cancel. */
  revokeTask(id: number, now: number): Promise<Mutation<{ revoked: number; cancelling?: number }>>;
  revokeSubtask(
    taskid: number,
    subtaskId: string,
    now: number,
  ): Promise<Mutation<{ revoked: number; cancelling?: number }>>;
  /** RESERVED subtasks of a host that were revoked and whose result has not arrived. */
  revokedReserved(agentsn: string): Promise<RevokedReserved[]>;
  /** BURIED and DELAYED subtasks -> READY now (the whole task, or one subtask). */
  kickTask(id: number, now: number, subtaskId?: string): Promise<Mutation<{ kicked: number }>>;
  /** Give a RESERVED subtask its full ttr again from now. */
  touchSubtask(taskid: number, subtaskId: string, now: number): Promise<Mutation<{ touched: number }>>;
  /** A FAILED, BURIED or REVOKED subtask -> PENDING and admitted again (a fresh attempt; a COMPLETE task runs again). */
  retrySubtask(taskid: number, subtaskId: string, now: number): Promise<Mutation<{ retried: number; state: string }>>;
  /** Every FAILED, BURIED or REVOKED subtask of a task (of a known host) -> PENDING and admitted; a COMPLETE or HALTED task runs again. */
  retryTask(id: number, now: number): Promise<Mutation<{ retried: number }>>;
  tick(now: number): Promise<TickOutcome>;

  getHost(agentsn: string): Promise<HostRow | undefined>;
  listHosts(filter: HostFilter, paging: Paging): Promise<Page<HostRow>>;
  setHostRegion(agentsns: string[], region: number, now: number): Promise<Mutation<{ updated: number }>>;
  deleteHost(agentsn: string, now: number): Promise<Mutation<{ deleted: number }>>;

  listTags(filter: { name?: string }, paging: Paging): Promise<Page<TagRow>>;
  createTag(name: string, value: string, now: number): Promise<Mutation<TagRow>>;
  updateTag(id: number, name: string, value: string, now: number): Promise<Mutation<TagRow>>;
  deleteTag(id: number): Promise<Mutation<{ deleted: number }>>;
  bindTag(
    tagid: number,
    agentsns: string[],
    bind: boolean,
    now: number,
  ): Promise<Mutation<{ changed: number; unknown: string[] }>>;

  listRegions(paging: Paging): Promise<Page<RegionRow>>;
  createRegion(name: string, now: number): Promise<Mutation<RegionRow>>;
  updateRegion(id: number, name: string, now: number): Promise<Mutation<RegionRow>>;
  deleteRegion(id: number): Promise<Mutation<{ deleted: number }>>;

  listEvents(filter: EventFilter, paging: Paging): Promise<Page<EventRow>>;
  /** Delete events that arrived before `before` (ms); returns how many. */
  pruneEvents(before: number): Promise<number>;

  insertPackage(p: Omit<PackageRow, 'id' | 'gmt_create' | 'gmt_modify'>, now: number): Promise<Mutation<PackageRow>>;
  getPackage(id: number): Promise<PackageRow | undefined>;
  findPackage(name: string, version: string, os?: string, arch?: string): Promise<PackageRow | undefined>;
  listPackages(filter: PackageFilter, paging: Paging): Promise<Page<PackageRow>>;
  /** Delete the matching rows and return them, so the caller removes their files. */
  deletePackages(filter: PackageFilter): Promise<PackageRow[]>;

  computeDashboard(now: number): Promise<Dashboard>;
  /** Hosts by status and subtasks by state, counted now (GET /metrics; optional for other stores). */
  metricCounts?(): Promise<{ hosts: Record<string, number>; subtasks: Record<string, number> }>;
  /** The newest subtasks of one host with their task's command and status (console host page; optional for other stores). */
  hostSubtasks?(agentsn: string, limit: number): Promise<HostSubtaskRow[]>;

  /** Store one periodic-task result and keep only the newest `keep` of its (host, name). */
  addTaskResult(r: TaskResultInput, keep: number): Promise<void>;
  listTaskResults(filter: TaskResultFilter): Promise<TaskResultRow[]>;
  /** Delete task results that arrived before `before` (ms); returns how many. */
  pruneTaskResults(before: number): Promise<number>;

  /** Store a token (its hash only); role admin and no scope limits unless given. */
  createToken(name: string, hash: string, now: number, grant?: { role: string; scope: string }): Promise<number>;
  listTokens(): Promise<TokenRow[]>;
  /** Delete every token with this name; returns how many. */
  deleteTokens(name: string): Promise<number>;
  /** The token with this hash (and mark it used), or undefined. Read per request: no cache. */
  tokenGrant(hash: string, now: number): Promise<TokenGrant | undefined>;

  /** Append one audit row (the table has no update and no delete but the retention sweep). */
  appendAudit(e: AuditEntry): Promise<number>;
  listAudit(filter: AuditFilter, paging: Paging): Promise<Page<AuditRow>>;
  /** Delete audit rows older than `before` (ms); returns how many. */
  pruneAudit(before: number): Promise<number>;
}
