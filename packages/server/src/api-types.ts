/**
 * The operator REST API's answer types, for its clients (the console, the operator CLI). Each is
 * a store row type (derived from its row schema, store/*-store.ts) with its time fields as ISO
 * 8601 UTC strings, the form every operator answer takes (issue 13 item 8); an event's
 * `occurred` stays the agent's unix seconds, and console-only routes may send unix ms. Types
 * only: the console imports this module (never store/), and nothing of it reaches a bundle.
 */
import type { AgentReport } from '@aspire/protocol';
import type { HistorySample } from './console-api/dashboard-history.ts';
import type {
  AUDIT_TIME_FIELDS,
  EVENT_TIME_FIELDS,
  HOST_TIME_FIELDS,
  PACKAGE_TIME_FIELDS,
  ROW_TIME_FIELDS,
  SUBTASK_TIME_FIELDS,
  TASK_TIME_FIELDS,
} from './http/iso-time.ts';
import type { Page } from './store/common.ts';
import type { EventRow } from './store/event-store.ts';
import type { HostRow, HostSubtaskRow } from './store/host-store.ts';
import type { Dashboard, RegionRow, TagRow } from './store/inventory-store.ts';
import type { AuditRow, TokenRow } from './store/operator-store.ts';
import type { PackageRow } from './store/package-store.ts';
import type { SubtaskRow, TaskRow } from './store/task-store.ts';

/** A row whose time fields the REST API sends as ISO 8601 UTC strings. */
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
/** One row of the audit log as GET /audit answers it (admin). */
export type AuditRecord = WithIso<AuditRow, (typeof AUDIT_TIME_FIELDS)[number]>;
/** A host's subtask with its task's command and status (console-only route: `gmt_modify` unix ms). */
export type HostSubtask = HostSubtaskRow;
/** An operator token as GET /token answers it: the stored scope parsed (null when unreadable). */
export type TokenView = WithIso<Omit<TokenRow, 'scope'>, 'gmt_create' | 'last_used'> & {
  scope: Record<string, unknown> | null;
};
