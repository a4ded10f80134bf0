/**
 * One function per operator route the console uses. Paths and shapes follow the server's
 * routes (packages/server/src/routes) and its OpenAPI document; this is the only file that
 * knows them.
 */
import { call, type Query } from './client.ts';
import { ApiError } from './errors.ts';
import type { DashboardStats, Host, HostEvent, Package, PageOf, Region, StatsSample, Subtask, Tag, Task } from './types.ts';

export interface Paging {
  offset: number;
  limit: number;
  order?: 'asc' | 'desc';
  sortby?: string;
}

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

export interface HostQuery extends Paging {
  status?: string;
  /** Exact hostname. */
  hostname?: string;
  region?: number;
  tag?: string;
  os?: string;
  arch?: string;
  version?: string;
}

export function listHosts(q: HostQuery, signal?: AbortSignal): Promise<PageOf & { hosts: Host[] }> {
  return call('GET', '/host', { query: q as unknown as Query, signal });
}

/**
 * Hosts matching the filters; `search` is an exact hostname or AgentSN (the server indexes
 * both): the hostname filter pages as usual, and a host whose AgentSN is the search text is
 * put first.
 */
export async function searchHosts(
  q: HostQuery,
  search: string | undefined,
  signal?: AbortSignal,
): Promise<PageOf & { hosts: Host[] }> {
  if (!search) return listHosts(q, signal);
  const [byName, bySn] = await Promise.all([
    listHosts({ ...q, hostname: search }, signal),
    q.offset === 0
      ? getHost(search, signal).then(
          (r) => r.host,
          (err: unknown) => {
            if (err instanceof ApiError && err.http === 404) return undefined;
            throw err;
          },
        )
      : Promise.resolve(undefined),
  ]);
  const extra = bySn && !byName.hosts.some((h) => h.agentsn === bySn.agentsn) && matches(bySn, q) ? bySn : undefined;
  if (!extra) return byName;
  return { ...byName, count: byName.count + 1, hosts: [extra, ...byName.hosts] };
}

/** Whether a host fetched by AgentSN also passes the other filters of the list. */
function matches(h: Host, q: HostQuery): boolean {
  if (q.status ? h.status !== q.status : h.status === 'deleted') return false;
  if (q.region !== undefined && h.region !== q.region) return false;
  if (q.os && h.os !== q.os) return false;
  if (q.arch && h.arch !== q.arch) return false;
  if (q.version && h.curvers !== q.version) return false;
  if (q.tag && !h.tags.includes(q.tag)) return false;
  return true;
}

export function getHost(agentsn: string, signal?: AbortSignal): Promise<{ host: Host }> {
  return call('GET', '/agent', { query: { agentsn }, signal });
}

export function listEvents(
  q: Paging & { agentsn?: string },
  signal?: AbortSignal,
): Promise<PageOf & { events: HostEvent[] }> {
  return call('GET', '/event', { query: { order: 'desc', sortby: 'id', ...q }, signal });
}

export function listPackages(
  q: Paging & { name?: string; os?: string; arch?: string },
  signal?: AbortSignal,
): Promise<PageOf & { packages: Package[] }> {
  return call('GET', '/package', { query: q as unknown as Query, signal });
}

export interface UploadInput {
  name: string;
  version: string;
  os: string;
  arch: string;
  file: File;
}

export function uploadPackage(u: UploadInput): Promise<{ package: Package }> {
  const form = new FormData();
  form.set('name', u.name);
  form.set('version', u.version);
  form.set('os', u.os);
  form.set('arch', u.arch);
  form.set('file', u.file, u.file.name);
  return call('POST', '/package', { body: form });
}

export function deletePackage(id: number): Promise<unknown> {
  return call('DELETE', '/package', { query: { id } });
}

export interface TaskInput {
  command: string;
  agents?: string[];
  tags?: string;
  parameters: Record<string, unknown>;
  batch?: number;
}

export function createTask(t: TaskInput): Promise<{ id: number; results: { AgentSN: string; errcode?: number }[] }> {
  return call('POST', '/task', { body: t });
}

export function getTask(id: number, signal?: AbortSignal): Promise<{ task: Task; subtasks: Subtask[] }> {
  return call('GET', '/task', { query: { id }, signal });
}

export function listTasks(
  q: Paging & { status?: string },
  signal?: AbortSignal,
): Promise<PageOf & { tasks: Task[] }> {
  return call('GET', '/task', { query: { order: 'desc', sortby: 'id', ...q }, signal });
}

export function listTags(q: Paging & { name?: string }, signal?: AbortSignal): Promise<PageOf & { tags: Tag[] }> {
  return call('GET', '/tag', { query: q as unknown as Query, signal });
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
