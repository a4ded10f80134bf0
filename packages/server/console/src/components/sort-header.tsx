/** A column header that sorts the (server-side) list by its column; aria-sort says how. */
export interface Sort {
  sortby: string;
  order: 'asc' | 'desc';
}

export function SortHeader({
  label,
  column,
  sort,
  onSort,
}: {
  label: string;
  column: string;
  sort: Sort;
  onSort: (s: Sort) => void;
}) {
  const active = sort.sortby === column;
  const next: Sort = { sortby: column, order: active && sort.order === 'asc' ? 'desc' : 'asc' };
  return (
    <th scope="col" aria-sort={active ? (sort.order === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" class="sort" onClick={() => onSort(next)} aria-label={`Sort by ${label}`}>
        {label}
        <span aria-hidden="true">{active ? (sort.order === 'asc' ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );
}
