/**
 * One short HTTP exchange with a server (seed 002: short connections, agent-initiated).
 * https is verified against the configured CA file (or the system CAs); verification is never
 * turned off. Replies are capped: a body over the limit is cut off while streaming, never
 * buffered whole. Whole-request timeout from the injected clock.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import type { Clock } from '@aspire/agent-core';
import { parseJson, type Validator } from '@aspire/protocol';
import { parseRetryAfter, type Outcome } from './outcome.ts';

export interface HttpTransportOptions {
  clock: Clock;
  timeoutMs: number;
  maxBodyBytes: number;
  /** PEM CA bundle for https servers; absent means the system's CAs. */
  caFile?: string;
}

export interface Transport {
  post<T>(baseUrl: string, path: string, body: unknown, headers: Record<string, string>, check: Validator<T>, signal?: AbortSignal): Promise<Outcome<T>>;
  close(): Promise<void>;
}

export function createHttpTransport(opts: HttpTransportOptions): Transport {
  const ca = opts.caFile ? readFileSync(opts.caFile) : undefined;
  const dispatcher = new Agent({
    connect: ca ? { ca, rejectUnauthorized: true } : { rejectUnauthorized: true },
    // Short connections: one exchange per connection, nothing kept open between pushes.
    pipelining: 0,
    keepAliveTimeout: 1,
    keepAliveMaxTimeout: 1,
  });

  async function post<T>(
    baseUrl: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    check: Validator<T>,
    signal?: AbortSignal,
  ): Promise<Outcome<T>> {
    let url: URL;
    try {
      url = new URL(path, baseUrl);
    } catch {
      return { kind: 'fatal', reason: `bad server address ${JSON.stringify(baseUrl)}` };
    }
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = opts.clock.setTimeout(() => ac.abort(new Error(`timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
    try {
      const res = await request(url, {
        method: 'POST',
        dispatcher,
        signal: ac.signal,
        headers: { 'content-type': 'application/json', connection: 'close', ...headers },
        body: JSON.stringify(body),
      });
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], opts.clock.now());
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > opts.maxBodyBytes) {
        res.body.destroy();
        return { kind: 'retry', reason: `reply of ${declared} bytes from ${url.origin} exceeds the ${opts.maxBodyBytes}-byte limit; discarded` };
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > opts.maxBodyBytes) {
          res.body.destroy();
          return { kind: 'retry', reason: `reply from ${url.origin} exceeds the ${opts.maxBodyBytes}-byte limit; discarded after ${size} bytes` };
        }
        chunks.push(chunk as Buffer);
      }
      const text = Buffer.concat(chunks).toString('utf8');
      const status = res.statusCode;
      if (status === 429 || status === 408 || status >= 500) {
        const o: Outcome<T> = { kind: 'retry', reason: `HTTP ${status} from ${url.origin}${snippet(text)}` };
        if (retryAfterMs !== undefined) o.retryAfterMs = retryAfterMs;
        return o;
      }
      if (status < 200 || status >= 300) {
        return { kind: 'fatal', status, reason: `HTTP ${status} from ${url.origin}${snippet(text)}` };
      }
      const parsed = parseJson(text);
      if (!parsed.ok) return { kind: 'retry', reason: `${parsed.error} in reply from ${url.origin}${snippet(text)}` };
      const v = check.validate(parsed.value);
      if (!v.ok) return { kind: 'retry', reason: `invalid reply from ${url.origin}: ${v.errors.join('; ')}` };
      return { kind: 'ok', status, value: v.value };
    } catch (err) {
      const reason = ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason.message : describe(err);
      return { kind: 'retry', reason: `${url.origin}: ${reason}` };
    } finally {
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  return { post, close: () => dispatcher.close() };
}

/** undici codes meaning the server went away in the middle of an exchange. */
const MID_REPLY_CODES = new Set(['UND_ERR_SOCKET', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'ECONNRESET', 'EPIPE']);

function snippet(text: string): string {
  const t = text.trim();
  return t ? `: ${JSON.stringify(t.length > 200 ? `${t.slice(0, 200)}...` : t)}` : '';
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  const msg = e.cause?.message ?? e.message ?? String(err);
  const text = code && !msg.includes(code) ? `${code} ${msg}` : msg;
  return code !== undefined && MID_REPLY_CODES.has(code) ? `server closed the connection before the reply was complete (${text})` : text;
}
