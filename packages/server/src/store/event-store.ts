/** The events part of the store: what hosts reported (category 1) and what the server noted (0). */
import { Type, type Static } from '@sinclair/typebox';
import type { Page, Paging } from './common.ts';
import { Num, NullableStr, Row, Str, Time } from './row-schema.ts';

export const EventRowSchema = Row(
  {
    id: Num(),
    agentsn: Str(),
    category: Num('0: server, 1: agent'),
    localid: Num("the agent's id of the event (negative: a server event)"),
    occurred: Num('unix seconds, as reported'),
    kind: Str(),
    agent: NullableStr('the sub-agent it is about'),
    message: Str(),
    data: Type.Unknown({ description: 'JSON the event carries, or null' }),
    gmt_create: Time('stored'),
  },
  'one host event',
);
export type EventRow = Static<typeof EventRowSchema>;

export interface EventFilter {
  agentsn?: string | undefined;
  since?: number | undefined;
  until?: number | undefined;
  kind?: string | undefined;
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
