/**
 * Shapes of the operator API answers the console reads. The server sends its store rows as they
 * are (packages/server/src/store/store.ts; seed 000 REST-API), so the console names those types
 * rather than keeping copies that could drift. Type-only imports: nothing of the server's
 * runtime reaches the browser bundle. Times are ISO 8601 UTC strings in operator REST answers (issue 13 item 8); an event's
 * `occurred` stays the agent's unix seconds; console-only routes may send unix milliseconds.
 */
import type { AgentReport } from '@aspire/protocol';
import type { HistorySample } from '../../../src/console-api/dashboard-history.ts';
import type {
  Dashboard,
  EventRow,
  HostRow,
  Page,
  PackageRow,
  RegionRow,
  SubtaskRow,
  TagRow,
  TaskRow,
} from '../../../src/store/store.ts';
import type {
  EVENT_TIME_FIELDS,
  HOST_TIME_FIELDS,
  PACKAGE_TIME_FIELDS,
  ROW_TIME_FIELDS,
  SUBTASK_TIME_FIELDS,
  TASK_TIME_FIELDS,
} from '../../../src/http/iso-time.ts';

/** A row whose time fields the REST API sends as ISO 8601 UTC strings (issue 13 item 8). */
type WithIso<T, K extends keyof T> = Omit<T, K> & Record<K, string | null>;

export type { AgentReport };

/** The paging fields of every list answer (`{count, offset, limit, <items>: [...]}`). */
export type PageOf = Omit<Page<never>, 'items'>;

export type Host = WithIso<HostRow, (typeof HOST_TIME_FIELDS)[number]>;
/** An event as the agent reported it; `occurred` is unix seconds. */
export type HostEvent = WithIso<EventRow, (typeof EVENT_TIME_FIELDS)[number]>;
export type Package = WithIso<PackageRow, (typeof PACKAGE_TIME_FIELDS)[number]>;
export type Tag = WithIso<TagRow, (typeof ROW_TIME_FIELDS)[number]>;
export type Region = WithIso<RegionRow, (typeof ROW_TIME_FIELDS)[number]>;
export type Task = WithIso<TaskRow, (typeof TASK_TIME_FIELDS)[number]>;
export type Subtask = WithIso<SubtaskRow, (typeof SUBTASK_TIME_FIELDS)[number]>;
export type DashboardStats = WithIso<Dashboard, 'computedAt'>;
export type StatsSample = HistorySample;
