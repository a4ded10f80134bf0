/**
 * Shapes of the operator API answers the console reads: the server's own API types
 * (packages/server/src/api-types.ts, derived from its row schemas), so the console keeps no
 * copies that could drift. Type-only: nothing of the server's runtime reaches the browser bundle.
 */
export type {
  AgentReport,
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
} from '../../../src/api-types.ts';
