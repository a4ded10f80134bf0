/**
 * One time format in the REST API (issue 13 item 8): every time field of an answer is an
 * ISO 8601 UTC string ("2026-01-01T00:00:00.000Z"); the store keeps unix milliseconds. null
 * stays null. The console converts to local time.
 */
export function isoTime(ms: number | null | undefined): string | null {
  return typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** A copy of `row` with the named unix-ms fields as ISO strings. */
export function withIsoTimes<T extends object, K extends keyof T>(
  row: T,
  keys: readonly K[],
): Omit<T, K> & Record<K, string | null> {
  const out: Record<string, unknown> = { ...(row as Record<string, unknown>) };
  for (const k of keys) out[k as string] = isoTime(row[k] as number | null | undefined);
  return out as Omit<T, K> & Record<K, string | null>;
}

export const TASK_TIME_FIELDS = ['window_start', 'window_end', 'start_at', 'gmt_create', 'gmt_modify'] as const;
export const SUBTASK_TIME_FIELDS = [
  'ready_at',
  'expires_at',
  'reserved_at',
  'buried_at',
  'revoke_requested_at',
  'gmt_create',
  'gmt_modify',
] as const;
export const PACKAGE_TIME_FIELDS = ['gmt_create', 'gmt_modify'] as const;
export const HOST_TIME_FIELDS = ['last_seen', 'events_dropped_at', 'gmt_create', 'gmt_modify'] as const;
/** Tags and regions. */
export const ROW_TIME_FIELDS = ['gmt_create', 'gmt_modify'] as const;
/** Events keep `occurred` as the agent reported it (unix seconds, part of the event's identity). */
export const EVENT_TIME_FIELDS = ['gmt_create'] as const;
export const AUDIT_TIME_FIELDS = ['at'] as const;
