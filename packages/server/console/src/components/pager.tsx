/** Server-side paging controls: the list is never loaded whole (100,000 hosts). */
export interface PagerProps {
  label: string;
  offset: number;
  limit: number;
  count: number;
  onChange: (offset: number, limit: number) => void;
  sizes?: number[];
}

export function Pager({ label, offset, limit, count, onChange, sizes = [20, 50, 100] }: PagerProps) {
  const first = count === 0 ? 0 : offset + 1;
  const last = Math.min(offset + limit, count);
  const lastOffset = count === 0 ? 0 : Math.floor((count - 1) / limit) * limit;
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <span role="status" aria-live="polite">
        {first.toLocaleString()}–{last.toLocaleString()} of {count.toLocaleString()}
      </span>
      <button type="button" onClick={() => onChange(0, limit)} disabled={offset === 0} aria-label="First page">
        «
      </button>
      <button
        type="button"
        onClick={() => onChange(Math.max(0, offset - limit), limit)}
        disabled={offset === 0}
        aria-label="Previous page"
      >
        ‹
      </button>
      <button
        type="button"
        onClick={() => onChange(offset + limit, limit)}
        disabled={offset + limit >= count}
        aria-label="Next page"
      >
        ›
      </button>
      <button
        type="button"
        onClick={() => onChange(lastOffset, limit)}
        disabled={offset >= lastOffset}
        aria-label="Last page"
      >
        »
      </button>
      <label>
        Rows per page{' '}
        <select
          value={String(limit)}
          onChange={(e) => onChange(0, Number((e.currentTarget as HTMLSelectElement).value))}
        >
          {sizes.map((s) => (
            <option value={String(s)}>{s}</option>
          ))}
        </select>
      </label>
    </nav>
  );
}
