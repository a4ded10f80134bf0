/**
 * One function per operator route the console uses. Paths and shapes follow the server's
 * routes (packages/server/src/routes) and its OpenAPI document; this is the only file that
 * knows them.
 */
import { call, upload } from './client.ts';
import type {
  AuditRecord,
  DashboardStats,
  Host,
  HostEvent,
  HostSubtask,
  Package,
  PageOf,
  Region,
  StatsSample,
  Subtask,
  Tag,
  Task,
} from './types.ts';

/** Type aliases, not interfaces: an object type alias fits the `Query` record, an interface does not. */
export type Paging = {
  offset: number;
  limit: number;
  order?: 'asc' | 'desc';
  sortby?: string;
};

/** A cheap authenticated call: does the server accept this token? */
export async function checkToken(token: string): Promise<void> {
  await call('GET', '/region', { token, query: { offset: 0, limit: 1 } });
}

/** The server's periodic statistics; 503 until the first computation. */
export function getDashboard(signal?: AbortSignal): Promise<{ dashboard: DashboardStats }> {
  return call('GET', '/dashboard', { signal });
}

/** Samples of the periodic statistics since the server started (console-api route). */
export function getDashboardHistory(signal?: AbortSignal): Promise<{ samples: StatsSample[] }> {
  return call('GET', '/dashboard/history', { signal });
}

export type HostQuery = Paging & {
  status?: string | undefined;
  /** Exact hostname. */
  hostname?: string | undefined;
  /** Case-insensitive prefix of the hostname or the AgentSN. */
  search?: string | undefined;
  region?: number | undefined;
  tag?: string | undefined;
  os?: string | undefined;
  arch?: string | undefined;
  version?: string | undefined;
};

export function listHosts(q: HostQuery, signal?: AbortSignal): Promise<PageOf & { hosts: Host[] }> {
  return call('GET', '/host', { query: q, signal });
}

/** Hosts matching the filters; `search` is a case-insensitive prefix of the hostname or AgentSN. */
export function searchHosts(
  q: HostQuery,
  search: string | undefined,
  signal?: AbortSignal,
): Promise<PageOf & { hosts: Host[] }> {
  return listHosts(search ? { ...q, search } : q, signal);
}

/** Mark a host deleted (it comes back if its agent pushes again). */
export function deleteHost(agentsn: string): Promise<{ deleted: number }> {
  return call('DELETE', '/host', { query: { agentsn } });
}

export function getHost(agentsn: string, signal?: AbortSignal): Promise<{ host: Host }> {
  return call('GET', '/agent', { query: { agentsn }, signal });
}

export function listEvents(
  q: Paging & { agentsn?: string | undefined },
  signal?: AbortSignal,
): Promise<PageOf & { events: HostEvent[] }> {
  return call('GET', '/event', { query: { order: 'desc', sortby: 'id', ...q }, signal });
}

export function listPackages(
  q: Paging & { name?: string | undefined; os?: string | undefined; arch?: string | undefined },
  signal?: AbortSignal,
): Promise<PageOf & { packages: Package[] }> {
  return call('GET', '/package', { query: q, signal });
}

export interface UploadInput {
  name: string;
  version: string;
  os: string;
  arch: string;
  file: File;
}

export function uploadPackage(
  u: UploadInput,
  onProgress: (sent: number, total: number) => void = () => {},
): Promise<{ package: Package }> {
  const form = new FormData();
  form.set('name', u.name);
  form.set('version', u.version);
  form.set('os', u.os);
  form.set('arch', u.arch);
  form.set('file', u.file, u.file.name);
  return upload('/package', form, onProgress);
}

export function deletePackage(id: number): Promise<unknown> {
  return call('DELETE', '/package', { query: { id } });
}

export interface TaskInput {
  command: string;
  agents?: string[];
  tags?: string;
  parameters: Record<string, unknown>;
  batch?: number | string;
  priority?: number;
  start_at?: string;
  max_errors?: number | string;
  after?: number[];
}

export function createTask(t: TaskInput): Promise<{ id: number; results: { AgentSN: string; errcode?: number }[] }> {
  return call('POST', '/task', { body: t });
}

/** A task with its subtasks (only those in `state`, when given) and per-state subtask counts. */
export function getTask(
  id: number,
  state: string | undefined,
  signal?: AbortSignal,
): Promise<{ task: Task; subtasks: Subtask[]; states?: Record<string, number> }> {
  return call('GET', '/task', { query: { id, state }, signal });
}

export function revokeTask(id: number, subtask?: string): Promise<{ revoked: number; cancelling?: number }> {
  return call('POST', '/task/revoke', { body: subtask === undefined ? { id } : { id, subtask } });
}

/** Every FAILED, BURIED and REVOKED subtask of a task runs again (fresh attempts); a COMPLETE or HALTED task runs again. */
export function retryTask(id: number): Promise<{ retried: number }> {
  return call('POST', '/task/retry', { body: { id } });
}

/** One FAILED, BURIED or REVOKED subtask runs again (a fresh attempt); `state` is where it is now. */
export function retrySubtask(id: number, subtask: string): Promise<{ retried: number; state: string }> {
  return call('POST', '/task/retry', { body: { id, subtask } });
}

/** A RESERVED subtask gets its full ttr again from now. */
export function touchSubtask(id: number, subtask: string): Promise<{ touched: number }> {
  return call('POST', '/task/touch', { body: { id, subtask } });
}

export function listTasks(
  q: Paging & { status?: string | undefined },
  signal?: AbortSignal,
): Promise<PageOf & { tasks: Task[] }> {
  return call('GET', '/task', { query: { order: 'desc', sortby: 'id', ...q }, signal });
}

export function listTags(
  q: Paging & { name?: string | undefined },
  signal?: AbortSignal,
): Promise<PageOf & { tags: Tag[] }> {
  return call('GET', '/tag', { query: q, signal });
}

export function createTag(name: string, value: string): Promise<{ tag: Tag }> {
  return call('POST', '/tag', { body: { name, value } });
}

export function deleteTag(id: number): Promise<unknown> {
  return call('DELETE', '/tag', { query: { id } });
}

export function bindTag(id: number, agents: string[], bind: boolean): Promise<{ changed: number; unknown: string[] }> {
  return call('POST', bind ? '/tag/bind' : '/tag/unbind', { body: { id, agents } });
}

export function listRegions(signal?: AbortSignal): Promise<PageOf & { regions: Region[] }> {
  return call('GET', '/region', { query: { offset: 0, limit: 1000 }, signal });
}

// ---- Operate: host page, Run, Tasks, Audit ------------------------------------------------

/** One host's answer to a Polaris request (design.md §5): retcode 0 = success; data is the command's output. */
export interface HostReply {
  host: string;
  resp: 'success' | 'failed';
  retcode: number;
  message: string;
  data?: unknown;
  truncated?: boolean;
}

export interface PolarisInput {
  hosts: string[];
  method: string;
  cmd?: string;
  args?: string;
  user?: string;
  timeout?: number;
}

/** POST /polaris: run sync.bash or getinfo.* on hosts connected to the command hub; one reply per host. */
export function polaris(p: PolarisInput, signal?: AbortSignal): Promise<{ id: string; response: HostReply[] }> {
  // The hub answers by the request's timeout (sync.bash) or its default deadline: wait past it.
  return call('POST', '/polaris', { body: p, signal, timeoutMs: ((p.timeout ?? 60) + 15) * 1000 });
}

/** Move BURIED and DELAYED subtasks of a task (or one subtask) to READY now. */
export function kickTask(id: number, subtask?: string): Promise<{ kicked: number }> {
  return call('POST', '/task/kick', { body: subtask === undefined ? { id } : { id, subtask } });
}

/** Tasks, newest first, filtered by status and command (any other filter the route takes passes through). */
export function findTasks(
  q: Paging & { status?: string | undefined; command?: string | undefined },
  signal?: AbortSignal,
): Promise<PageOf & { tasks: Task[] }> {
  return call('GET', '/task', { query: { order: 'desc', sortby: 'id', ...q }, signal });
}

/** One row of the audit log (GET /audit, admin): who did what, where, with what outcome. */
export type AuditRow = AuditRecord;

export function listAudit(
  q: Paging & { token?: string | undefined; route?: string | undefined; agentsn?: string | undefined },
  signal?: AbortSignal,
): Promise<PageOf & { audit: AuditRow[] }> {
  return call('GET', '/audit', { query: { order: 'desc', sortby: 'id', ...q }, signal });
}

export function hostTasks(agentsn: string, signal?: AbortSignal): Promise<{ subtasks: HostSubtask[] }> {
  return call('GET', '/console/host-tasks', { query: { agentsn, limit: 20 }, signal });
}
