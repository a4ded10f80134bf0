/** Shapes every store part shares: a page request, a page answer and a mutation's outcome. */

export interface Paging {
  offset: number;
  limit: number;
  order: 'asc' | 'desc';
  /** Already checked against the resource's whitelist: a column key, never raw input. */
  sortby: string;
}

export interface Page<T> {
  count: number;
  offset: number;
  limit: number;
  items: T[];
}

export type Mutation<T> =
  | { ok: true; value: T }
  | { ok: false; reason: 'not_found' | 'conflict' | 'bad_request'; cause: string };

export function notFound(cause: string): { ok: false; reason: 'not_found'; cause: string } {
  return { ok: false, reason: 'not_found', cause };
}

export function conflict(cause: string): { ok: false; reason: 'conflict'; cause: string } {
  return { ok: false, reason: 'conflict', cause };
}
