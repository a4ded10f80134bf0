/**
 * One HTTP/1.1 exchange on a socket the caller opened (net or tls): write the request, read the
 * reply with `Connection: close` semantics. The status push is one small JSON POST a step, and
 * node:http (its client, server, agent and parser modules, and a parser object per request)
 * holds ~2 MB more in an idle boot than this (docs/boot-agent.md "Idle memory").
 *
 * What a reply may be, per RFC 9112: informational 1xx heads before the final one (skipped), a
 * body delimited by Content-Length, by chunked transfer coding (extensions and trailers
 * ignored) or by the end of the connection; 204 and 304 have none. Anything else malformed is
 * an error. Heads are capped like node:http's (16 KB), bodies at the caller's limit while
 * streaming, never buffered past it.
 */
import type { Duplex } from 'node:stream';

export const MAX_HEAD_BYTES = 16 * 1024;

export interface Http1Request {
  method: 'GET' | 'POST';
  /** origin-form request target: path and query. */
  target: string;
  /** The Host header: host[:port] as in the URL. */
  host: string;
  /** Header fields; later names (case-insensitive) replace earlier ones. */
  headers: Record<string, string>;
  body?: Buffer;
}

export type Http1Reply =
  | { kind: 'reply'; status: number; headers: Map<string, string>; body: Buffer }
  /** The body is longer than the limit: declared (Content-Length) or found while reading. */
  | { kind: 'too-large'; declared?: number; received?: number };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible characters, spaces and tabs; no CR, LF or NUL (no header injection).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** The request's bytes (headers as Latin-1, as node:http writes them). */
export function requestBytes(req: Http1Request): Buffer {
  const fields = new Map<string, [string, string]>();
  fields.set('host', ['Host', req.host]);
  for (const [name, value] of Object.entries(req.headers)) {
    if (!TOKEN.test(name)) throw new Error(`invalid header name ${JSON.stringify(name)}`);
    if (!FIELD_VALUE.test(value)) throw new Error(`invalid value for header ${name}`);
    fields.set(name.toLowerCase(), [name, value]);
  }
  if (!TOKEN.test(req.method) || !/^\/[\x21-\x7e]*$/.test(req.target)) throw new Error('invalid request line');
  let head = `${req.method} ${req.target} HTTP/1.1\r\n`;
  for (const [name, value] of fields.values()) head += `${name}: ${value}\r\n`;
  head += '\r\n';
  const h = Buffer.from(head, 'latin1');
  return req.body ? Buffer.concat([h, req.body]) : h;
}

/** A protocol error: the reply is not HTTP/1.1 as RFC 9112 has it. */
function malformed(what: string): Error {
  return Object.assign(new Error(`malformed reply: ${what}`), { code: 'HPE_INVALID' });
}

/** The connection ended before the reply was whole. */
function cutShort(): Error {
  return Object.assign(new Error('reply cut short'), { code: 'ECONNRESET' });
}

type BodyMode = { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' } | { kind: 'none' };

/**
 * Parses one reply from the bytes fed in. feed() returns the reply once it is complete (or too
 * large), undefined while more is needed; end() is called at the end of the connection.
 */
export class ReplyParser {
  private buf: Buffer = Buffer.alloc(0);
  private status = 0;
  private headers = new Map<string, string>();
  private mode: BodyMode | undefined;
  private body: Buffer[] = [];
  private size = 0;
  // Chunked coding: the size line, the chunk's data (left), its CRLF, the trailer section.
  private chunk: { at: 'size' } | { at: 'data'; left: number } | { at: 'crlf' } | { at: 'trailers' } = { at: 'size' };

  constructor(private readonly maxBodyBytes: number) {}

  feed(data: Buffer): Http1Reply | undefined {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    while (!this.mode) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buf.length > MAX_HEAD_BYTES) throw malformed(`head over ${MAX_HEAD_BYTES} bytes`);
        return undefined;
      }
      if (end > MAX_HEAD_BYTES) throw malformed(`head over ${MAX_HEAD_BYTES} bytes`);
      const head = this.buf.subarray(0, end).toString('latin1');
      this.buf = this.buf.subarray(end + 4);
      const r = this.head(head);
      if (r) return r;
    }
    return this.readBody();
  }

  end(): Http1Reply {
    if (this.mode?.kind === 'close') return this.done();
    throw cutShort();
  }

  private head(text: string): Http1Reply | undefined {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.[01] ([1-9]\d\d)(?: [^\r\n]*)?$/.exec(lines[0] ?? '');
    if (!m) throw malformed('status line');
    const status = Number(m[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon);
      if (colon <= 0 || !TOKEN.test(name)) throw malformed('header field');
      const key = name.toLowerCase();
      const value = line.slice(colon + 1).trim();
      const prev = headers.get(key);
      headers.set(key, prev === undefined ? value : `${prev}, ${value}`);
    }
    // Informational replies (100 Continue, 103 Early Hints) come before the final one.
    if (status < 200 && status !== 101) return undefined;
    if (status === 101) throw malformed('unexpected protocol switch');
    this.status = status;
    this.headers = headers;
    const te = headers.get('transfer-encoding');
    const cl = headers.get('content-length');
    if (status === 204 || status === 304) this.mode = { kind: 'none' };
    else if (te !== undefined)
      // Chunked last: its own framing; any other coding runs to the end of the connection.
      this.mode = /(?:^|,)\s*chunked\s*$/i.test(te) ? { kind: 'chunked' } : { kind: 'close' };
    else if (cl !== undefined) {
      // Repeated identical values are allowed (RFC 9110 §8.6), differing ones are not.
      const values = new Set(cl.split(',').map((v) => v.trim()));
      const [v] = values;
      if (values.size !== 1 || v === undefined || !/^\d{1,15}$/.test(v)) throw malformed('Content-Length');
      const n = Number(v);
      if (n > this.maxBodyBytes) return { kind: 'too-large', declared: n };
      this.mode = { kind: 'length', left: n };
    } else this.mode = { kind: 'close' };
    return undefined;
  }

  private take(data: Buffer): Http1Reply | undefined {
    this.size += data.length;
    if (this.size > this.maxBodyBytes) return { kind: 'too-large', received: this.size };
    if (data.length) this.body.push(data);
    return undefined;
  }

  private readBody(): Http1Reply | undefined {
    const mode = this.mode;
    if (!mode || mode.kind === 'none') return this.done();
    if (mode.kind === 'close') {
      const r = this.take(this.buf);
      this.buf = Buffer.alloc(0);
      return r;
    }
    if (mode.kind === 'length') {
      const part = this.buf.subarray(0, mode.left);
      mode.left -= part.length;
      this.buf = this.buf.subarray(part.length);
      return this.take(part) ?? (mode.left === 0 ? this.done() : undefined);
    }
    for (;;) {
      const c = this.chunk;
      if (c.at === 'data') {
        const part = this.buf.subarray(0, c.left);
        c.left -= part.length;
        this.buf = this.buf.subarray(part.length);
        const r = this.take(part);
        if (r) return r;
        if (c.left > 0) return undefined;
        this.chunk = { at: 'crlf' };
        continue;
      }
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) {
        if (this.buf.length > MAX_HEAD_BYTES) throw malformed('chunk framing');
        return undefined;
      }
      const line = this.buf.subarray(0, eol).toString('latin1');
      this.buf = this.buf.subarray(eol + 2);
      if (c.at === 'crlf') {
        if (line !== '') throw malformed('chunk not followed by CRLF');
        this.chunk = { at: 'size' };
      } else if (c.at === 'size') {
        const m = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
        if (!m?.[1]) throw malformed('chunk size');
        const n = Number.parseInt(m[1], 16);
        this.chunk = n === 0 ? { at: 'trailers' } : { at: 'data', left: n };
      } else if (line === '') return this.done();
    }
  }

  private done(): Http1Reply {
    return { kind: 'reply', status: this.status, headers: this.headers, body: Buffer.concat(this.body) };
  }
}

/**
 * Write `req` on `socket` and read the reply. Settles once: the reply, too-large, or the
 * socket's error (its own, a protocol error, or the reason it was destroyed with). The caller
 * destroys the socket afterwards whatever happened.
 */
export function exchangeHttp1(socket: Duplex, req: Http1Request, maxBodyBytes: number): Promise<Http1Reply> {
  const bytes = requestBytes(req);
  const parser = new ReplyParser(maxBodyBytes);
  return new Promise<Http1Reply>((resolve, reject) => {
    let settled = false;
    const settle = (f: () => Http1Reply) => {
      if (settled) return;
      try {
        const r = f();
        settled = true;
        resolve(r);
      } catch (err) {
        settled = true;
        reject(err);
      }
    };
    socket.on('data', (data: Buffer) => {
      if (settled) return;
      try {
        const r = parser.feed(data);
        if (r) settle(() => r);
      } catch (err) {
        settle(() => {
          throw err;
        });
      }
    });
    socket.on('end', () => settle(() => parser.end()));
    socket.on('error', (err) =>
      settle(() => {
        throw err;
      }),
    );
    // A close without 'end' (reset, destroyed): the reply is whole only if already settled.
    socket.on('close', () =>
      settle(() => {
        throw cutShort();
      }),
    );
    // write, not end: a half-close before the reply makes node:http servers (fastify included)
    // abort the request. The server closes after its reply (Connection: close).
    socket.write(bytes);
  });
}
