/**
 * One short HTTP exchange with a server (design.md §3: short connections, agent-initiated).
 * https is verified against the configured CA file (or the system CAs); verification is never
 * turned off. Replies are capped: a body over the limit is cut off while streaming, never
 * buffered whole. Whole-request timeout from the injected clock.
 *
 * node:http / node:https, not undici: the push is one short JSON POST per step, and loading
 * undici (its WASM HTTP parser) costs the idle daemon about 28 MB of RSS on every host
 * (docs/boot-agent.md "Footprint"). undici stays for package downloads, loaded only then.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
// Type only: node:https (and node:tls under it, about 4 MB of RSS) is loaded at the first https
// exchange, so a boot talking plain http never pays for it.
import type { Agent as HttpsAgent } from 'node:https';
import { readFileSync } from 'node:fs';
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
  post<T>(
    baseUrl: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    check: Validator<T>,
    signal?: AbortSignal,
  ): Promise<Outcome<T>>;
  /** A GET with the same contract (the desired-state policy pull); optional so test transports may leave it out. */
  get?<T>(
    baseUrl: string,
    path: string,
    headers: Record<string, string>,
    check: Validator<T>,
    signal?: AbortSignal,
  ): Promise<Outcome<T>>;
  close(): Promise<void>;
}

export function createHttpTransport(opts: HttpTransportOptions): Transport {
  const ca = opts.caFile ? readFileSync(opts.caFile) : undefined;
  // Our own agents with keep-alive off (Node's global agent keeps sockets alive since Node 19):
  // one exchange per step, minutes apart, so an idle socket would only hold memory and a file
  // descriptor and race the server's keep-alive timeout on the next push. `ca` replaces the
  // default list, as before: with a CA file only that CA is trusted; without it, Node's roots.
  const httpAgent = new HttpAgent({ keepAlive: false });
  let https: Promise<{ agent: HttpsAgent; request: typeof httpRequest }> | undefined;
  const loadHttps = () =>
    (https ??= import('node:https').then((m) => ({
      agent: new m.Agent({ keepAlive: false, rejectUnauthorized: true, ...(ca ? { ca } : {}) }),
      request: m.request,
    })));

  async function exchange<T>(
    method: 'POST' | 'GET',
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
    const timer = opts.clock.setTimeout(
      () => ac.abort(new Error(`timed out after ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    let req: ClientRequest | undefined;
    try {
      const scheme = url.protocol;
      if (scheme !== 'http:' && scheme !== 'https:') throw new Error(`unsupported scheme ${scheme}`);
      const payload = method === 'POST' ? Buffer.from(JSON.stringify(body), 'utf8') : undefined;
      const tls = scheme === 'https:' ? await loadHttps() : undefined;
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const send = tls ? tls.request : httpRequest;
        // `signal` destroys the request (and the reply being read) on timeout or SIGTERM.
        req = send(
          url,
          {
            method,
            agent: tls ? tls.agent : httpAgent,
            signal: ac.signal,
            headers: {
              ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
              connection: 'close',
              ...headers,
            },
          },
          resolve,
        );
        req.on('error', reject);
        req.end(payload);
      });
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], opts.clock.now());
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > opts.maxBodyBytes) {
        // Destroying the request closes the socket: the server stops sending.
        req?.destroy();
        return {
          kind: 'retry',
          reason: `reply of ${declared} bytes from ${url.origin} exceeds the ${opts.maxBodyBytes}-byte limit; discarded`,
        };
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res) {
        size += (chunk as Buffer).length;
        if (size > opts.maxBodyBytes) {
          req?.destroy();
          return {
            kind: 'retry',
            reason: `reply from ${url.origin} exceeds the ${opts.maxBodyBytes}-byte limit; discarded after ${size} bytes`,
          };
        }
        chunks.push(chunk as Buffer);
      }
      // The stream can end early when the socket is torn down under it: never parse a partial reply.
      if (ac.signal.aborted || !res.complete)
        throw ac.signal.reason ?? Object.assign(new Error('reply cut short'), { code: 'ECONNRESET' });
      return judgeReply(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), url, retryAfterMs, check);
    } catch (err) {
      const reason = ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason.message : describe(err);
      return { kind: 'retry', reason: `${url.origin}: ${reason}` };
    } finally {
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
      // Nothing outlives the exchange, whatever path left it (no-op once the reply is complete).
      req?.destroy();
    }
  }

  return {
    post: (baseUrl, path, body, headers, check, signal) =>
      exchange('POST', baseUrl, path, body, headers, check, signal),
    get: (baseUrl, path, headers, check, signal) => exchange('GET', baseUrl, path, undefined, headers, check, signal),
    close: async () => {
      httpAgent.destroy();
      if (https) (await https).agent.destroy();
    },
  };
}

/** A whole reply as an outcome: retry (429, 408, 5xx, bad JSON, invalid), fatal (other non-2xx) or ok. */
function judgeReply<T>(
  status: number,
  text: string,
  url: URL,
  retryAfterMs: number | undefined,
  check: Validator<T>,
): Outcome<T> {
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
}

/** Error codes meaning the server went away in the middle of an exchange. */
const MID_REPLY_CODES = new Set(['ECONNRESET', 'EPIPE']);

function snippet(text: string): string {
  const t = text.trim();
  return t ? `: ${JSON.stringify(t.length > 200 ? `${t.slice(0, 200)}...` : t)}` : '';
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  const msg = e.cause?.message ?? e.message ?? String(err);
  const text = code && !msg.includes(code) ? `${code} ${msg}` : msg;
  return code !== undefined && MID_REPLY_CODES.has(code)
    ? `server closed the connection before the reply was complete (${text})`
    : text;
}
