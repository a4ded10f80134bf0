/**
 * The design's paging query (offset limit order sortby) as a route schema, per resource, and the
 * one parser that turns it into a typed Paging.
 *
 * offset and limit travel as strings and are parsed here, not by the schema: ajv's type
 * coercion turns "Infinity" and "1e400" into Infinity and then skips minimum/maximum for a
 * non-finite number, and "1e20" passes `integer` — values SQLite refuses in LIMIT/OFFSET
 * (a 500). Only decimal digits are accepted; a value out of range is a 400 naming the parameter.
 */
import { Type, type TProperties } from '@sinclair/typebox';
import { SORTABLE, type Sortable } from '../store/sorting.ts';
import type { Paging } from '../store/store.ts';
import { BadRequestError } from './bad-request.ts';

export const DEFAULT_LIMIT = 20;
/** The largest page; a larger limit is refused (400), not clamped. */
export const MAX_LIMIT = 1000;
/** The largest offset: the largest integer a JSON number carries exactly. */
export const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

const DIGITS = /^[0-9]+$/;

function pagingFields(keys: string[]) {
  return {
    offset: Type.Optional(Type.String({ maxLength: 64, description: `integer 0..${MAX_OFFSET}; default 0` })),
    limit: Type.Optional(
      Type.String({ maxLength: 64, description: `integer 1..${MAX_LIMIT}; default ${DEFAULT_LIMIT}` }),
    ),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' })),
    // Only these names are accepted; the SQL column comes from store/sorting.ts.
    sortby: Type.Optional(Type.String({ enum: keys, default: 'id' })),
  };
}

export function pagingQuery<E extends TProperties = {}>(resource: Sortable, extra?: E) {
  const fields = { ...pagingFields(Object.keys(SORTABLE[resource])), ...(extra ?? ({} as E)) } as ReturnType<
    typeof pagingFields
  > &
    E;
  return Type.Object(fields, { additionalProperties: false });
}

/**
 * A whole number in [min, max] from a query-string value, or BadRequestError naming the
 * parameter. Decimal digits only: no sign, exponent, fraction, hex, spaces or Infinity.
 */
export function parseBoundedInt(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const range = `an integer from ${min} to ${max}`;
  if (!DIGITS.test(raw))
    throw new BadRequestError(
      `${name} must be ${range} (decimal digits only), got ${JSON.stringify(raw.slice(0, 32))}`,
    );
  // More digits than max has cannot be in range (and would lose precision as a number).
  const n = raw.replace(/^0+(?=\d)/, '').length > String(max).length ? Number.POSITIVE_INFINITY : Number(raw);
  if (n < min || n > max)
    throw new BadRequestError(`${name} must be ${range}, got ${raw.length > 32 ? `${raw.slice(0, 32)}...` : raw}`);
  return n;
}

export function toPaging(q: { offset?: string; limit?: string; order?: 'asc' | 'desc'; sortby?: string }): Paging {
  return {
    offset: parseBoundedInt('offset', q.offset, 0, 0, MAX_OFFSET),
    limit: parseBoundedInt('limit', q.limit, DEFAULT_LIMIT, 1, MAX_LIMIT),
    order: q.order ?? 'asc',
    sortby: q.sortby ?? 'id',
  };
}
