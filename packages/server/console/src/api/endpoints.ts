/**
 * One function per operator route the console uses. Paths and shapes follow the server's
 * routes (packages/server/src/routes) and its OpenAPI document; this is the only file that
 * knows them.
 */
import { call, upload, type Query } from './client.ts';
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
  /** Case-insensitive prefix of the hostname or the AgentSN. */
  search?: string;
  region?: number;
  tag?: string;
  os?: string;
  arch?: string;
  version?: string;
}

export function listHosts(q: HostQuery, signal?: AbortSignal): Promise<PageOf & { hosts: Host[] }> {
  return call('GET', '/host', { query: q as unknown as Query, signal });
}

/** Hosts matching the filters; `search` is a case-insensitive prefix of the hostname or AgentSN. */
export function searchHosts(q: HostQuery, search: string | undefined, signal?: AbortSignal): Promise<PageOf & { hosts: Host[] }> {
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

export function uploadPackage(u: UploadInput, onProgress: (sent: number, total: number) => void = () => {}): Promise<{ package: Package }> {
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
  batch?: number;
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

export function revokeTask(id: number): Promise<{ revoked: number }> {
  return call('POST', '/task/revoke', { body: { id } });
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
