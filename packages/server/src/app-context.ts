/** What every route module gets: the store, the clock, the config and the logger. */
import type { Clock } from '@aspire/agent-core';
import type { Logger } from 'pino';
import type { ServerConfig } from './config.ts';
import type { Dashboard, Store } from './store/store.ts';
import type { ServerSigning } from './trust/signing-key.ts';
import type { HostCa } from './trust/host-ca.ts';
import type { ServerMetrics } from './metrics/server-metrics.ts';

export interface AppContext {
  store: Store;
  clock: Clock;
  config: Readonly<ServerConfig>;
  logger: Logger;
  /** HMAC key for signed package links. */
  linkKey: string;
  /** Signs jobs of status replies; its announcement goes into register and status replies. */
  signing: ServerSigning;
  /** The host CA: registration and status pushes with a `csr` get a client certificate (absent: none issued). */
  hostCa?: HostCa;
  /**
   * Close a host's live command channel on this server (a host deleted or reset must not keep
   * one: docs/security.md "Host identity"). Absent when the server runs no hub.
   */
  closeHostChannel?: (agentsn: string, reason: string) => boolean;
  /** Latest periodically computed dashboard. */
  dashboard(): Dashboard | undefined;
  /** Run the scheduler at once (after a task is created or revoked). */
  kickScheduler(): void;
  /** Prometheus metrics (GET /metrics): status pushes and the BootAgents' self-reports are fed here. */
  metrics: ServerMetrics;
}

/** The context a route module gets, narrowed to the store part(s) it uses (store/*-store.ts). */
export type PartContext<S> = Omit<AppContext, 'store'> & { store: S };
