/**
 * Rows are defined once, as typebox schemas: a store row's TypeScript type is derived from its
 * schema (Static), the REST answer schema is derived from the same schema (apiSchema: time
 * fields become ISO 8601 strings, issue 13 item 8), and a row read from SQL is decoded against
 * it (row-decoders.ts), so no store casts a row to a type it does not check. Types and schemas
 * only here (no runtime import of the protocol): the console's type check reaches this file. A nullable column is
 * `nullable: true` (OpenAPI 3.0, what fastify's serializer reads) with `T | null` as its type.
 */
import { Type, type TObject, type TProperties } from '@sinclair/typebox';

/** Marks a unix-ms time column; its value is what the time means (the API's description). */
const TIME = 'x-aspire-time';
/** Every answer object keeps fields a route adds: the serializer drops nothing. */
const open = { additionalProperties: true } as const;
const described = (description?: string) => (description ? { description } : {});

export const Num = (description?: string) => Type.Number(described(description));
export const Str = (description?: string) => Type.String(described(description));
export const NullableNum = (description?: string) =>
  Type.Unsafe<number | null>(Type.Number({ nullable: true, ...described(description) }));
export const NullableStr = (description?: string) =>
  Type.Unsafe<string | null>(Type.String({ nullable: true, ...described(description) }));
/** A unix-ms time column; `what` describes it (the API says it as ISO 8601 UTC). */
export const Time = (what: string) => Type.Number({ description: `${what} (unix ms)`, [TIME]: what });
export const NullableTime = (what: string) =>
  Type.Unsafe<number | null>(Type.Number({ nullable: true, description: `${what} (unix ms)`, [TIME]: what }));
/** A string column holding one of a closed set of words. */
export const Word = <T extends string>(description: string) => Type.Unsafe<T>(Type.String({ description }));
/** A row object schema (open: columns a later migration adds do not break the serializer). */
export const Row = <P extends TProperties>(properties: P, description: string) =>
  Type.Object(properties, { ...open, description });

/** The REST answer schema of a row: its time columns as ISO 8601 UTC strings, nullable kept. */
export function apiSchema(row: TObject, description?: string): TObject {
  const properties: TProperties = {};
  for (const [key, field] of Object.entries(row.properties)) {
    const what = (field as Record<string, unknown>)[TIME];
    properties[key] =
      typeof what === 'string'
        ? Type.String({
            format: 'date-time',
            ...(field.nullable === true ? { nullable: true } : {}),
            description: `${what} (ISO 8601 UTC)`,
          })
        : field;
  }
  const text = description ?? row.description;
  return Type.Object(properties, { ...open, ...(text !== undefined ? { description: text } : {}) });
}
