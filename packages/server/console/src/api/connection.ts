import { createStore } from '../lib/store.ts';

/**
 * Whether the last call reached the server. Every call reports here; the banner shows while it
 * is false and a probe loop (see components/connection-banner.tsx) brings it back.
 */
export interface Connection {
  reachable: boolean;
  /** When the server was first seen unreachable (ms since epoch), for the banner. */
  since: number | null;
  lastError: string | null;
}

export const connection = createStore<Connection>({ reachable: true, since: null, lastError: null });

export function markReachable(): void {
  if (!connection.get().reachable) connection.set({ reachable: true, since: null, lastError: null });
}

export function markUnreachable(error: string): void {
  const cur = connection.get();
  connection.set({ reachable: false, since: cur.since ?? Date.now(), lastError: error });
}
