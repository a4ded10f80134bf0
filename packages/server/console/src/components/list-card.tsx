import type { ComponentChildren } from 'preact';
import type { ListView } from '../lib/use-list-view.ts';
import { TextField } from './fields.tsx';
import { ErrorNote } from './notice.tsx';
import { Pager } from './pager.tsx';

/**
 * A card holding one server-paged list: its heading (which names the table and the pager), a
 * filter box beside it, the list's error, the table (children) and the pager.
 */
export function ListCard({
  headingId,
  title,
  filterLabel,
  view,
  count,
  error,
  children,
}: {
  headingId: string;
  title: string;
  filterLabel: string;
  view: ListView;
  count: number;
  error: string | null;
  children: ComponentChildren;
}) {
  return (
    <section class="card" aria-labelledby={headingId}>
      <div class="row-between">
        <h2 id={headingId}>{title}</h2>
        <TextField label={filterLabel} type="search" value={view.filter} onValue={view.setFilter} />
      </div>
      <ErrorNote error={error} />
      {children}
      <Pager label={title} offset={view.offset} limit={view.limit} count={count} onChange={view.setPage} />
    </section>
  );
}
