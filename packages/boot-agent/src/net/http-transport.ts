/**
 * One short HTTP exchange with a server (design.md §3: short connections, agent-initiated).
 * https is verified against the configured CA file (or the system CAs); verification is never
 * turned off. Replies are capped: a body over the limit is cut off while streaming, never
 * buffered whole. Whole-request timeout from the injected clock.
 *
 * A socket of our own (node:net, or node:tls for https) with the HTTP/1.1 exchange of http1.ts,
 * not undici nor node:http: the push is one short JSON POST per step, and each of those holds
 * memory an idle daemon pays for on every host (undici and its WASM parser about 28 MB,
 * node:http ~2 MB; docs/boot-agent.md "Idle memory"). undici stays for package downloads,
 * loaded only then.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, isIP } from 'node:net';
import type { Duplex } from 'node:stream';
// Type only: node:tls (about 4 MB of RSS) is loaded at the first https exchange, so a boot
// talking plain http never pays for it.
import type * as Tls from 'node:tls';
import type { Clock } from '@aspire/agent-core';
import { parseJson, type Validator } from '@aspire/protocol';
import { exchangeHttp1 } from './http1.ts';
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
  // `ca` replaces the default list: with a CA file only that CA is trusted; without it, Node's roots.
  const ca = opts.caFile ? readFileSync(opts.caFile) : undefined;
  let tls: Promise<typeof Tls> | undefined;
  const loadTls = () => (tls ??= import('node:tls'));
  const open = new Set<Duplex>();

  /** A connection to the URL's host and port: one per exchange, closed after it (no keep-alive). */
  async function connect(url: URL): Promise<Duplex> {
    // URL keeps an IPv6 literal in brackets; sockets take it bare.
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (url.protocol === 'http:') return netConnect({ host, port: Number(url.port) || 80 });
    const t = await loadTls();
    return t.connect({
      host,
      port: Number(url.port) || 443,
      // SNI names a host, never an address (RFC 6066 §3); the certificate is checked against
      // `host` either way, as node:https does.
      ...(isIP(host) ? {} : { servername: host }),
      rejectUnauthorized: true,
      ...(ca ? { ca } : {}),
    });
  }

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
    let socket: Duplex | undefined;
    // Destroying the socket (timeout, SIGTERM) ends the exchange with that reason.
    const onStop = () => socket?.destroy(ac.signal.reason instanceof Error ? ac.signal.reason : new Error('aborted'));
    ac.signal.addEventListener('abort', onStop, { once: true });
    try {
      const scheme = url.protocol;
      if (scheme !== 'http:' && scheme !== 'https:') throw new Error(`unsupported scheme ${scheme}`);
      const payload = method === 'POST' ? Buffer.from(JSON.stringify(body), 'utf8') : undefined;
      socket = await connect(url);
      open.add(socket);
      if (ac.signal.aborted) onStop();
      const reply = await exchangeHttp1(
        socket,
        {
          method,
          target: `${url.pathname}${url.search}`,
          host: url.host,
          headers: {
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
            connection: 'close',
            ...headers,
          },
          ...(payload ? { body: payload } : {}),
        },
        opts.maxBodyBytes,
      );
      if (reply.kind === 'too-large') {
        return {
          kind: 'retry',
          reason:
            reply.declared !== undefined
              ? `reply of ${reply.declared} bytes from ${url.origin} exceeds the ${opts.maxBodyBytes}-byte limit; discarded`
              : `reply from ${url.origin} exceeds the ${opts.maxBodyBytes}-byte limit; discarded after ${reply.received} bytes`,
        };
      }
      const retryAfterMs = parseRetryAfter(reply.headers.get('retry-after'), opts.clock.now());
      return judgeReply(reply.status, reply.body.toString('utf8'), url, retryAfterMs, check);
    } catch (err) {
      const reason = ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason.message : describe(err);
      return { kind: 'retry', reason: `${url.origin}: ${reason}` };
    } finally {
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
      ac.signal.removeEventListener('abort', onStop);
      // Nothing outlives the exchange, whatever path left it (the server closes after its reply).
      if (socket) {
        socket.destroy();
        open.delete(socket);
      }
    }
  }

  return {
    post: (baseUrl, path, body, headers, check, signal) =>
      exchange('POST', baseUrl, path, body, headers, check, signal),
    get: (baseUrl, path, headers, check, signal) => exchange('GET', baseUrl, path, undefined, headers, check, signal),
    close: async () => {
      for (const s of open) s.destroy();
      open.clear();
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
