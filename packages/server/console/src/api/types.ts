/**
 * Shapes of the operator API answers the console reads. The server sends its store rows as they
 * are (packages/server/src/store/store.ts; seed 000 REST-API), so the console names those types
 * rather than keeping copies that could drift. Type-only imports: nothing of the server's
 * runtime reaches the browser bundle. Times are UTC unix milliseconds unless named otherwise.
 */
import type { AgentReport } from '@aspire/protocol';
import type { HistorySample } from '../../../src/console-api/dashboard-history.ts';
import type { Dashboard, EventRow, HostRow, Page, PackageRow, RegionRow, SubtaskRow, TagRow, TaskRow } from '../../../src/store/store.ts';

export type { AgentReport };

/** The paging fields of every list answer (`{count, offset, limit, <items>: [...]}`). */
export type PageOf = Omit<Page<never>, 'items'>;

export type Host = HostRow;
/** An event as the agent reported it; `occurred` is unix seconds. */
export type HostEvent = EventRow;
export type Package = PackageRow;
export type Tag = TagRow;
export type Region = RegionRow;
export type Task = TaskRow;
export type Subtask = SubtaskRow;
export type DashboardStats = Dashboard;
export type StatsSample = HistorySample;
