import { ApiError, NetworkError, UnauthorizedError } from './errors.ts';
import { markReachable, markUnreachable } from './connection.ts';
import { session, signOut } from './session.ts';

/** Every data call goes to the operator REST API, the same one the CLI uses. */
export const API_PREFIX = '/api/v1/server';

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface CallOptions {
  query?: Query;
  /** JSON body (objects) or a raw body (FormData, Blob) sent as is. */
  body?: unknown;
  /** Use this token instead of the session's (the login form checks a token before keeping it). */
  token?: string;
  signal?: AbortSignal;
  /** Give up after this long (a server that hangs counts as away); 0: never. Default 15 s, uploads never. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;

export function queryString(query: Query | undefined): string {
  if (!query) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

interface EnvelopeLike {
  status?: unknown;
  message?: unknown;
  cause?: unknown;
}

/**
 * Call the operator API and return the parsed JSON body. Throws NetworkError when the server is
 * unreachable, UnauthorizedError on 401 (and ends the session unless a token was passed
 * explicitly), ApiError for any other error envelope.
 */
export async function call<T>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
  const token = opts.token ?? session.get();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let body: BodyInit | undefined;
  if (opts.body instanceof FormData || opts.body instanceof Blob) {
    body = opts.body;
  } else if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const timeoutMs = opts.timeoutMs ?? (body instanceof FormData || body instanceof Blob ? 0 : DEFAULT_TIMEOUT_MS);
  const signals = [opts.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
  let res: Response;
  try {
    res = await fetch(`${API_PREFIX}${path}${queryString(opts.query)}`, {
      method,
      headers,
      body,
      signal: signals.length ? AbortSignal.any(signals) : undefined,
      cache: 'no-store',
    });
  } catch (err) {
    // The caller gave up (a newer request replaced this one): not the server's fault.
    if (opts.signal?.aborted) throw err;
    const e = new NetworkError(err);
    markUnreachable(e.message);
    throw e;
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    // The server went away in the middle of its answer.
    if (opts.signal?.aborted) throw err;
    const e = new NetworkError(err);
    markUnreachable(e.message);
    throw e;
  }
  markReachable();
  let json: unknown = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  const env = (json ?? {}) as EnvelopeLike;
  const status = typeof env.status === 'number' ? env.status : res.ok ? 0 : res.status;
  const message = typeof env.message === 'string' ? env.message : res.statusText || `HTTP ${res.status}`;
  const detail = typeof env.cause === 'string' ? env.cause : undefined;
  if (res.status === 401) {
    const err = new UnauthorizedError(status, message, detail);
    if (opts.token === undefined && token) signOut('The server no longer accepts this token (401). Log in again.');
    throw err;
  }
  if (!res.ok || status !== 0) throw new ApiError(res.status, status, message, detail);
  return json as T;
}
