import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { NetworkError, errorText } from '../api/errors.ts';
import { refreshEpoch } from './refresh.ts';
import { useStore } from './use-store.ts';

export interface Polled<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  /** Load again now (after an action changed what is shown). */
  reload: () => void;
}

/**
 * Load `fn` now, whenever `deps` change, and `intervalMs` after each answer (0: once). A call
 * still in flight is aborted when a newer one starts, so a slow answer never overwrites a newer one.
 * A network failure keeps the last data on screen (the banner says the server is away).
 */
export function usePoll<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[], intervalMs = 0): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const epoch = useStore(refreshEpoch);
  const fnRef = useRef(fn);
  fnRef.current = fn;

  useEffect(() => {
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    setLoading(true);
    fnRef
      .current(ctl.signal)
      .then((d) => {
        if (ctl.signal.aborted) return;
        setData(d);
        setError(null);
      })
      .catch((err: unknown) => {
        if (ctl.signal.aborted) return;
        if (err instanceof NetworkError) return;
        setError(errorText(err));
      })
      .finally(() => {
        if (ctl.signal.aborted) return;
        setLoading(false);
        // The next poll is counted from this answer, so a slow server is never asked twice at once.
        if (intervalMs > 0) timer = setTimeout(() => setTick((t) => t + 1), intervalMs);
      });
    return () => {
      ctl.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [...deps, tick, intervalMs, epoch]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}
