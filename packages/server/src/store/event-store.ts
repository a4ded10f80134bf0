/** The events part of the store: what hosts reported (category 1) and what the server noted (0). */
import type { Page, Paging } from './common.ts';

export interface EventRow {
  id: number;
  agentsn: string;
  category: number;
  localid: number;
  occurred: number;
  kind: string;
  agent: string | null;
  message: string;
  data: unknown;
  gmt_create: number;
}

export interface EventFilter {
  agentsn?: string;
  since?: number;
  until?: number;
  kind?: string;
}

export interface EventStore {
  /** A server-side event (category 0) on a host, e.g. a refused channel identity. */
  addServerEvent(
    agentsn: string,
    kind: string,
    message: string,
    data: Record<string, unknown>,
    now: number,
  ): Promise<void>;
  listEvents(filter: EventFilter, paging: Paging): Promise<Page<EventRow>>;
  /** Delete events that arrived before `before` (ms); returns how many. */
  pruneEvents(before: number): Promise<number>;
}
