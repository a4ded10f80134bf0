/** The inventory part of the store: tags, regions and the fleet counts (dashboard, metrics). */
import type { Mutation, Page, Paging } from './common.ts';

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

export interface Dashboard {
  hosts: { total: number; online: number; offline: number; registered: number };
  agents: { name: string; deployed: number; online: number }[];
  computedAt: number;
}

export interface InventoryStore {
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

  computeDashboard(now: number): Promise<Dashboard>;
  /** Hosts by status and subtasks by state, counted now (GET /metrics; optional for other stores). */
  metricCounts?(): Promise<{ hosts: Record<string, number>; subtasks: Record<string, number> }>;
}
