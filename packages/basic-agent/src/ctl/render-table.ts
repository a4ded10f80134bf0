/**
 * BasicAgentCtl's `--format table` (the default on a terminal): a list of objects as aligned
 * columns, one object as `key  value` lines, anything nested as compact JSON in its cell.
 */
const cell = (v: unknown): string => {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'string') return v.replace(/[\r\n\t]+/g, ' ');
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null)) return v.map((x) => cell(x)).join(',');
  return JSON.stringify(v);
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function columns(rows: readonly Record<string, unknown>[]): string {
  const keys: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
  const grid = [keys.map((k) => k.toUpperCase()), ...rows.map((r) => keys.map((k) => cell(r[k])))];
  const widths = keys.map((_, i) => Math.max(...grid.map((line) => line[i]!.length)));
  return (
    grid
      .map((line) =>
        line
          .map((c, i) => (i === line.length - 1 ? c : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export function renderTable(data: unknown): string {
  if (Array.isArray(data)) {
    if (data.length === 0) return '(none)\n';
    if (data.every(isRecord)) return columns(data);
    return data.map((x) => cell(x)).join('\n') + '\n';
  }
  if (isRecord(data)) {
    const keys = Object.keys(data);
    const w = Math.max(0, ...keys.map((k) => k.length));
    return keys.map((k) => `${k.padEnd(w)}  ${cell(data[k])}`).join('\n') + '\n';
  }
  return `${cell(data)}\n`;
}
