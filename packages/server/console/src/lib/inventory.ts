// Pure (no DOM): unit-tested under Node in packages/server/test/console-lib.test.ts.
/**
 * The host page's inventory: which getinfo collectors it asks for, and how an answer's data is
 * flattened into label/value rows whatever its shape (a collector's JSON is not fixed here).
 */

/** getinfo collectors shown on a host page, in order (the BasicAgent's collectors/registry.ts names). */
export const INVENTORY_COLLECTORS = ['os', 'kernel', 'cpu', 'memory', 'uptime', 'disks', 'network'] as const;

export interface InventoryRow {
  label: string;
  value: string;
}

const MAX_ROWS = 40;

/** Flatten a collector's data into rows: nested keys joined with dots, arrays indexed, long lists cut. */
export function inventoryRows(data: unknown, prefix = ''): InventoryRow[] {
  const rows: InventoryRow[] = [];
  const walk = (v: unknown, path: string) => {
    if (rows.length >= MAX_ROWS) return;
    if (v === null || v === undefined) rows.push({ label: path || 'value', value: '—' });
    else if (Array.isArray(v)) {
      if (v.length === 0) rows.push({ label: path || 'value', value: '(none)' });
      for (const [i, x] of v.entries()) walk(x, `${path}[${i}]`);
    } else if (typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length === 0) rows.push({ label: path || 'value', value: '(none)' });
      for (const [k, x] of entries) walk(x, path ? `${path}.${k}` : k);
    } else rows.push({ label: path || 'value', value: String(v) });
  };
  walk(data, prefix);
  return rows;
}

/** A sub-agent's limits (design.md §3 `limits`: cpu, memory, ...) as one short line; '—' when none. */
export function limitsText(limits: unknown): string {
  if (!limits || typeof limits !== 'object') return '—';
  const parts = Object.entries(limits as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k} ${String(v)}`);
  return parts.length ? parts.join(', ') : '—';
}
