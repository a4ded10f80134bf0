/**
 * Decoders of SQL rows into the row schemas of the part files (*-store.ts): scalar columns are
 * checked (a number column holds a number, a string column a string, null only where
 * nullable); JSON text and arrays have their own decoder here. Columns a schema does not name
 * are left out. A row that does not match is an internal error, never passed on as if it did.
 */
import { type AgentReport, ApiStatus, AspireError } from '@aspire/protocol';
import type { Static, TObject, TSchema } from '@sinclair/typebox';
import { HostRowSchema, HostSubtaskRowSchema } from './host-store.ts';
import { PackageRowSchema } from './package-store.ts';
import { RegionRowSchema, TagRowSchema } from './inventory-store.ts';
import { EventRowSchema } from './event-store.ts';
import { AuditRowSchema, TokenRowSchema } from './operator-store.ts';
import { TaskResultRowSchema } from './task-result-store.ts';
import { SubtaskRowSchema, TaskRowSchema } from './task-store.ts';

type Decode = (r: Record<string, unknown>) => unknown;

/** A decoder of SQL rows into `name`'s schema; `custom` decodes the non-scalar columns. */
export function rowDecoder<T extends TObject>(
  name: string,
  schema: T,
  custom: { [K in keyof Static<T>]?: (r: Record<string, unknown>) => Static<T>[K] } = {},
): (r: Record<string, unknown>) => Static<T> {
  const fields: [string, Decode][] = Object.entries(schema.properties).map(([key, field]) => {
    const own = (custom as Record<string, Decode | undefined>)[key];
    return [key, own ?? scalar(name, key, field)];
  });
  return (r) => {
    const out: Record<string, unknown> = {};
    for (const [key, decode] of fields) out[key] = decode(r);
    return out as Static<T>;
  };
}

function scalar(name: string, key: string, field: TSchema): Decode {
  const type = field.type;
  if (type !== 'number' && type !== 'string') throw new Error(`row ${name}.${key}: a ${String(type)} needs a decoder`);
  const nullable = field.nullable === true;
  return (r) => {
    const v = r[key];
    if (typeof v === type || (v === null && nullable)) return v;
    throw new AspireError(
      ApiStatus.INTERNAL,
      `stored ${name} row: ${key} is ${v === null ? 'null' : typeof v}, expected ${type}${nullable ? ' or null' : ''}`,
    );
  };
}

/** A host row as SQL reads it (HOST_SELECT of each store: `agents` JSON text, `bound` tags). */
export const decodeHostRow = rowDecoder('hosts', HostRowSchema, {
  agents: (r) => JSON.parse((r.agents as string) || '[]') as AgentReport[],
  tags: (r) => (typeof r.bound === 'string' && r.bound ? r.bound.split(',') : []),
});

export const decodePackageRow = rowDecoder('packages', PackageRowSchema);

export const decodeTagRow = rowDecoder('tags', TagRowSchema);

export const decodeRegionRow = rowDecoder('regions', RegionRowSchema);

/** An event row as SQL reads it: `data` is JSON text (or NULL). */
export const decodeEventRow = rowDecoder('events', EventRowSchema, {
  data: (r) => (typeof r.data === 'string' ? (JSON.parse(r.data) as unknown) : null),
});

/** An audit row as SQL reads it; `phase` is checked to be one of its two words. */
export const decodeAuditRow = rowDecoder('audit', AuditRowSchema, {
  phase: (r) => {
    if (r.phase === 'dispatch' || r.phase === 'result') return r.phase;
    throw new AspireError(ApiStatus.INTERNAL, `stored audit row: phase is ${String(r.phase)}`);
  },
});

/** A task row as SQL reads it: `parameters` and `after_ids` are JSON text. */
export const decodeTaskRow = rowDecoder('tasks', TaskRowSchema, {
  parameters: (r) => JSON.parse(r.parameters as string) as Record<string, unknown>,
  after: (r) => JSON.parse((r.after_ids as string | undefined) ?? '[]') as number[],
});

export const decodeTokenRow = rowDecoder('tokens', TokenRowSchema);

/** A task result row as SQL reads it: `truncated` and `skipped` are stored as 0/1. */
export const decodeTaskResultRow = rowDecoder('task_results', TaskResultRowSchema, {
  truncated: (r) => Number(r.truncated) === 1,
  skipped: (r) => Number(r.skipped) === 1,
});

export const decodeSubtaskRow = rowDecoder('subtasks', SubtaskRowSchema);
export const decodeHostSubtaskRow = rowDecoder('host subtasks', HostSubtaskRowSchema);
