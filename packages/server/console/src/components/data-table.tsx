import type { ComponentChild, VNode } from 'preact';

/**
 * A column header: its text, `{ hidden }` for a header only screen readers hear (an actions
 * column), or a header cell of its own (a sort button, see sort-header.tsx).
 */
export type Column = string | { hidden: string } | VNode;

export interface DataTableProps<T> {
  /** The id of the heading that names the table; or `label`, the name itself. */
  labelledBy?: string;
  label?: string;
  columns: Column[];
  /** The loaded rows; null or undefined while nothing has loaded yet (no "empty" row then). */
  rows: readonly T[] | null | undefined;
  /** One item's row (or rows: a fragment). */
  row: (item: T) => ComponentChild;
  /** Text of the one row shown when the loaded list is empty; without it, no such row. */
  empty?: string;
  /** Set while a newer answer is on its way (aria-busy); omitted: the attribute is left out. */
  busy?: boolean;
}

/** Every list in the console: one header row, one row per item, a note when the list is empty. */
export function DataTable<T>({ labelledBy, label, columns, rows, row, empty, busy }: DataTableProps<T>) {
  return (
    <table
      aria-labelledby={labelledBy}
      aria-label={label}
      aria-busy={busy === undefined ? undefined : busy ? 'true' : 'false'}
    >
      <thead>
        <tr>{columns.map(headerCell)}</tr>
      </thead>
      <tbody>
        {(rows ?? []).map(row)}
        {rows && rows.length === 0 && empty !== undefined && (
          <tr>
            <td colSpan={columns.length} class="muted">
              {empty}
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

function headerCell(c: Column): ComponentChild {
  if (typeof c === 'string') return <th scope="col">{c}</th>;
  if ('hidden' in c) {
    return (
      <th scope="col">
        <span class="sr-only">{c.hidden}</span>
      </th>
    );
  }
  return c;
}
