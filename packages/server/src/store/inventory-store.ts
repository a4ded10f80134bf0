/** The inventory part of the store: tags, regions and the fleet counts (dashboard, metrics). */
import type { Static } from '@sinclair/typebox';
import type { Mutation, Page, Paging } from './common.ts';
import { Num, Row, Str, Time } from './row-schema.ts';

export const TagRowSchema = Row(
  {
    id: Num(),
    name: Str(),
    value: Str(),
    hosts: Num('hosts bound to it'),
    gmt_create: Time('created'),
    gmt_modify: Time('last change'),
  },
  'a k=v tag an operator binds to hosts',
);
export type TagRow = Static<typeof TagRowSchema>;

export const RegionRowSchema = Row(
  {
    id: Num(),
    name: Str(),
    hosts: Num('hosts in it (deleted hosts not counted)'),
    gmt_create: Time('created'),
    gmt_modify: Time('last change'),
  },
  'a region (0 = global)',
);
export type RegionRow = Static<typeof RegionRowSchema>;

export interface Dashboard {
  hosts: { total: number; online: number; offline: number; registered: number };
  agents: { name: string; deployed: number; online: number }[];
  computedAt: number;
}

export interface InventoryStore {
  listTags(filter: { name?: string | undefined }, paging: Paging): Promise<Page<TagRow>>;
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
