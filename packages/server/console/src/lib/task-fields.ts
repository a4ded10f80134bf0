// Pure (no DOM): unit-tested under Node in packages/server/test/console-lib.test.ts.
/**
 * A task as the API returns it, shown field by field whatever fields it has (the task routes
 * grow: priority, dependencies, ISO times...): scalars as they are, objects and arrays as JSON.
 */
export interface FieldRow {
  name: string;
  value: string;
}

import { formatLocal } from './time.ts';

/** An ISO 8601 UTC time as the API sends every task time (issue 13): shown in local time. */
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** Fields the task list already shows in its columns, left out of the details. */
const SHOWN = new Set(['id', 'command', 'status', 'complete', 'count']);

export function taskFields(task: object): FieldRow[] {
  return Object.entries(task)
    .filter(([k]) => !SHOWN.has(k))
    .map(([name, v]) => ({
      name,
      value:
        v === null || v === undefined
          ? '—'
          : typeof v === 'object'
            ? JSON.stringify(v)
            : typeof v === 'string' && ISO_TIME.test(v)
              ? formatLocal(v)
              : String(v),
    }));
}
