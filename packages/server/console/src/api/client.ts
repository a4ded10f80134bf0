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
  signal?: AbortSignal | undefined;
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
  const signals = [opts.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter(
    (s): s is AbortSignal => s !== undefined,
  );
  let res: Response;
  try {
    res = await fetch(`${API_PREFIX}${path}${queryString(opts.query)}`, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      ...(signals.length ? { signal: AbortSignal.any(signals) } : {}),
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
  return interpret<T>(res.status, res.statusText, text, opts.token === undefined && token !== null);
}

/**
 * Turn an answer into the body or the right error. `sessionToken`: the call used the session's
 * token, so a 401 ends the session (the token was revoked).
 */
function interpret<T>(http: number, statusText: string, text: string, sessionToken: boolean): T {
  let json: unknown = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  const ok = http >= 200 && http < 300;
  const env = (json ?? {}) as EnvelopeLike;
  const status = typeof env.status === 'number' ? env.status : ok ? 0 : http;
  const message = typeof env.message === 'string' ? env.message : statusText || `HTTP ${http}`;
  const detail = typeof env.cause === 'string' ? env.cause : undefined;
  if (http === 401) {
    if (sessionToken) signOut('The server no longer accepts this token (401). Log in again.');
    throw new UnauthorizedError(status, message, detail);
  }
  if (!ok || status !== 0) throw new ApiError(http, status, message, detail);
  return json as T;
}

/**
 * POST a form with upload progress (fetch cannot report it): `onProgress(sent, total)`. Same
 * answers and errors as call(); no timeout, a big package takes what it takes.
 */
export function upload<T>(path: string, form: FormData, onProgress: (sent: number, total: number) => void): Promise<T> {
  const token = session.get();
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${API_PREFIX}${path}`);
    xhr.setRequestHeader('accept', 'application/json');
    if (token) xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) onProgress(ev.loaded, ev.total);
    };
    const away = () => {
      const e = new NetworkError(new Error('the upload did not reach the server'));
      markUnreachable(e.message);
      reject(e);
    };
    xhr.onerror = away;
    xhr.onabort = away;
    xhr.onload = () => {
      markReachable();
      try {
        resolve(interpret<T>(xhr.status, xhr.statusText, xhr.responseText, token !== null));
      } catch (err) {
        reject(err);
      }
    };
    xhr.send(form);
  });
}
