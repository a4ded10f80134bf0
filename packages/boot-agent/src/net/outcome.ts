/**
 * Transport outcomes are data, not exceptions: the loops decide what to do from the kind.
 * - ok: the server answered 2xx with a JSON body that passed validation.
 * - retry: worth trying again (network error, timeout, 5xx, 429, malformed or oversized reply);
 *   retryAfterMs when the server said how long to wait (Retry-After).
 * - fatal: this server refused this request (4xx); the same request will not do better there
 *   soon, so the loop moves on and slows down instead of hammering.
 */
export type Outcome<T> =
  | { kind: 'ok'; status: number; value: T }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  | { kind: 'fatal'; reason: string; status?: number };

/** Retry-After is delay-seconds or an HTTP date (RFC 9110 10.2.3). */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
