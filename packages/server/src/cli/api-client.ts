/**
 * The operator REST API as the CLI calls it: Bearer token, TLS verified (with --ca added),
 * the design.md §5 envelope checked once here. A refusal or an unreachable server is a CliFailure
 * with one line naming the request and the server's cause; the token is never in it.
 */
import { Agent, fetch, type Dispatcher } from 'undici';
import type { ClientConfig } from './client-config.ts';
import { CliFailure } from './errors.ts';

export const API_BASE = '/api/v1/server';

/** A successful answer: the envelope's fields plus the route's. */
export type ApiAnswer = Record<string, unknown> & { status: 0; message: string };

export type Query = Record<string, string | number | undefined>;

export interface RequestOptions {
  query?: Query;
  json?: unknown;
  /** A raw body (package upload) with its content type. */
  raw?: { body: Uint8Array; contentType: string };
  /** Give up after this long (default DEFAULT_TIMEOUT_MS); `aspire run` waits as long as its command may run. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 120_000;

export class ApiClient {
  private readonly dispatcher: Dispatcher;

  constructor(private readonly config: ClientConfig) {
    // Each request carries its own deadline (an AbortSignal), so undici's own are off.
    this.dispatcher = new Agent({
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: config.caPem !== undefined ? { ca: config.caPem } : {},
    });
  }

  get url(): string {
    return this.config.url;
  }

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<ApiAnswer> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== '') qs.set(k, String(v));
    const target = `${API_BASE}${path}${qs.size ? `?${qs}` : ''}`;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.config.token}`,
      accept: 'application/json',
    };
    let body: string | Uint8Array | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.raw) {
      headers['content-type'] = opts.raw.contentType;
      body = opts.raw.body;
    }
    let res: Awaited<ReturnType<typeof fetch>>;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const signal = AbortSignal.timeout(timeoutMs);
    let text: string;
    try {
      res = await fetch(`${this.config.url}${target}`, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        dispatcher: this.dispatcher,
        signal,
      });
      text = await res.text();
    } catch (err) {
      if (signal.aborted)
        throw new CliFailure(
          `${method} ${target}: no answer from ${this.config.url} within ${Math.round(timeoutMs / 1000)} s`,
        );
      throw new CliFailure(`cannot reach ${this.config.url}: ${networkCause(err)}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CliFailure(
        `${method} ${target}: HTTP ${res.status}, not an Aspire answer (${text.slice(0, 120).trim() || 'empty body'})`,
      );
    }
    const env = parsed as { status?: unknown; message?: unknown; cause?: unknown };
    if (!res.ok || env.status !== 0) {
      const what = [env.message, env.cause].filter((x) => typeof x === 'string' && x).join(': ');
      throw new CliFailure(`${method} ${target}: HTTP ${res.status}${what ? ` ${what}` : ''}`);
    }
    return parsed as ApiAnswer;
  }

  /** Every row of a paged list (offset/limit), at most `max`. */
  async all<T>(path: string, key: string, query: Query = {}, max = 100_000): Promise<{ count: number; items: T[] }> {
    const items: T[] = [];
    let count = 0;
    for (let offset = 0; items.length < max; ) {
      const page = await this.request('GET', path, { query: { ...query, offset, limit: 1000 } });
      const rows = (page[key] as T[] | undefined) ?? [];
      count = typeof page.count === 'number' ? page.count : rows.length;
      items.push(...rows);
      offset += rows.length;
      if (rows.length === 0 || offset >= count) break;
    }
    return { count, items: items.slice(0, max) };
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/** The innermost cause of a failed fetch, as one short phrase (ECONNREFUSED, a certificate error). */
function networkCause(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && (e as { cause?: unknown }).cause instanceof Error) e = (e as { cause: unknown }).cause;
  const code = (e as { code?: unknown }).code;
  const msg = e instanceof Error ? e.message : String(e);
  return typeof code === 'string' && !msg.includes(code) ? `${code} ${msg}` : msg;
}
