import { useState } from 'preact/hooks';

/** Which page of a server-paged list is shown, and the text it is filtered by. */
export interface ListView {
  offset: number;
  limit: number;
  filter: string;
  /** A new filter starts again at the first page (the old offset may be past the new end). */
  setFilter(filter: string): void;
  setPage(offset: number, limit: number): void;
}

export function useListView(limit: number): ListView {
  const [page, setPageState] = useState({ offset: 0, limit });
  const [filter, setFilterState] = useState('');
  return {
    ...page,
    filter,
    setFilter(next) {
      setFilterState(next);
      setPageState((p) => ({ ...p, offset: 0 }));
    },
    setPage: (offset, limit) => setPageState({ offset, limit }),
  };
}
