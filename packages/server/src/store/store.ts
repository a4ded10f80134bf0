/**
 * The server's storage seam. Operations are coarse (one transaction each) and async, so a
 * PostgreSQL implementation follows the SQLite one without changing a caller. The seam is one
 * interface per part, each in its own file; `Store` is their intersection, and a route module
 * names only the part it uses. The task rules live in ../tasks/state-machine.ts and are shared
 * by every implementation.
 */
import type { EventStore } from './event-store.ts';
import type { HostStore } from './host-store.ts';
import type { InventoryStore } from './inventory-store.ts';
import type { OperatorStore } from './operator-store.ts';
import type { PackageStore } from './package-store.ts';
import type { PolicyStore } from './policy-store.ts';
import type { StatusIngestion } from './status-ingestion.ts';
import type { TaskResultStore } from './task-result-store.ts';
import type { TaskStore } from './task-store.ts';

export type * from './common.ts';
export type * from './event-store.ts';
export type * from './host-store.ts';
export type * from './inventory-store.ts';
export type * from './operator-store.ts';
export type * from './package-store.ts';
export type * from './status-ingestion.ts';
export type * from './task-result-store.ts';
export type * from './task-store.ts';

/** The desired-state part, reached as `store.policy` (policy-store.ts). */
export interface PolicyPart {
  /** The product tree, host attachments and desired-state policies (policy-store.ts). */
  readonly policy: PolicyStore;
}

export interface Store
  extends PolicyPart,
    HostStore,
    StatusIngestion,
    TaskStore,
    EventStore,
    PackageStore,
    InventoryStore,
    OperatorStore,
    TaskResultStore {
  close(): void;
  /** A server-side secret kept with the data (HMAC key for package links), created once. */
  secret(key: string): Promise<string>;
}
