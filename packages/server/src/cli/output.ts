/**
 * How a client command writes its answer: a table for a person at a terminal, one JSON
 * document for a pipe (`-o table|json` chooses). Tables are plain (no colours) so they read
 * the same in a log.
 */
import Table from 'cli-table3';
import { UsageError } from './errors.ts';

export type OutputMode = 'table' | 'json';

export function outputMode(flag: string | undefined, isTty: boolean): OutputMode {
  if (flag === undefined) return isTty ? 'table' : 'json';
  if (flag === 'table' || flag === 'json') return flag;
  throw new UsageError(`-o ${JSON.stringify(flag)}: use table or json`);
}

export interface Column<T> {
  head: string;
  cell: (row: T) => unknown;
}

export function renderTable<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const t = new Table({ head: columns.map((c) => c.head), style: { head: [], border: [] } });
  for (const r of rows) t.push(columns.map((c) => cellText(c.cell(r))));
  return `${t.toString()}\n`;
}

/** Key/value lines of one object (task show, a created row). */
export function renderRecord(record: Record<string, unknown>): string {
  const t = new Table({ style: { head: [], border: [] } });
  for (const [k, v] of Object.entries(record)) t.push({ [k]: cellText(v) });
  return `${t.toString()}\n`;
}

export function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** A unix-ms time as the table shows it (UTC, seconds). */
export function when(ms: unknown): string {
  // The REST API answers ISO 8601 UTC strings; a number (unix ms) is still shown for older servers.
  const t = typeof ms === 'string' && /^\d{4}-\d\d-\d\dT/.test(ms) ? Date.parse(ms) : ms;
  return typeof t === 'number' && Number.isFinite(t) ? new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z') : '';
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
