/** The seed's paging query (offset limit order sortby) as a route schema, per resource. */
import { Type, type TProperties } from '@sinclair/typebox';
import { SORTABLE, type Sortable } from '../store/sorting.ts';
import type { Paging } from '../store/store.ts';

export const MAX_LIMIT = 1000;

function pagingFields(keys: string[]) {
  return {
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 20 })),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' })),
    // Only these names are accepted; the SQL column comes from store/sorting.ts.
    sortby: Type.Optional(Type.String({ enum: keys, default: 'id' })),
  };
}

export function pagingQuery<E extends TProperties = {}>(resource: Sortable, extra?: E) {
  const fields = { ...pagingFields(Object.keys(SORTABLE[resource])), ...(extra ?? ({} as E)) } as ReturnType<typeof pagingFields> & E;
  return Type.Object(fields, { additionalProperties: false });
}

export function toPaging(q: { offset?: number; limit?: number; order?: 'asc' | 'desc'; sortby?: string }): Paging {
  return { offset: q.offset ?? 0, limit: q.limit ?? 20, order: q.order ?? 'asc', sortby: q.sortby ?? 'id' };
}
