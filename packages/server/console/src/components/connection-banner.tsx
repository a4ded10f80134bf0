import { useEffect } from 'preact/hooks';
import { connection, markReachable, markUnreachable } from '../api/connection.ts';
import { recovered } from '../lib/refresh.ts';
import { useStore } from '../lib/use-store.ts';
import { formatLocal } from '../lib/time.ts';

/** How often to knock while the server is away. */
const PROBE_MS = 2000;

/**
 * Shown while the server cannot be reached (a fetch failed). The page stays as it was, with the
 * last data, and a probe knocks until the server answers again; then every view reloads.
 */
export function ConnectionBanner() {
  const conn = useStore(connection);
  useEffect(() => {
    if (conn.reachable) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const probe = async () => {
      try {
        const res = await fetch('/console/ping', { cache: 'no-store', signal: AbortSignal.timeout(PROBE_MS * 2) });
        if (stopped) return;
        if (res.ok) {
          markReachable();
          recovered();
          return;
        }
        markUnreachable(`HTTP ${res.status}`);
      } catch (err) {
        if (stopped) return;
        markUnreachable(err instanceof Error ? err.message : String(err));
      }
      timer = setTimeout(probe, PROBE_MS);
    };
    timer = setTimeout(probe, PROBE_MS);
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [conn.reachable]);

  if (conn.reachable) return null;
  return (
    <div class="banner banner-error" role="alert" aria-label="Server unreachable">
      <strong>Cannot reach the Aspire server.</strong> The data below is from{' '}
      {conn.since ? formatLocal(conn.since) : 'before'}; retrying every {PROBE_MS / 1000} s and reloading as soon as it
      answers.
    </div>
  );
}
