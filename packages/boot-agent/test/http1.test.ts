import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock } from '@aspire/agent-core';
import { MAX_HEAD_BYTES, ReplyParser, requestBytes } from '../src/net/http1.ts';
import { createHttpTransport } from '../src/net/http-transport.ts';
import { policyReply } from '../src/policy/policy-doc.ts';

/** Feed the reply in pieces of `step` bytes; the parser's answer, or 'end' handled as the connection closing. */
function parse(raw: string, { step = 3, max = 1024, close = true } = {}) {
  const p = new ReplyParser(max);
  const bytes = Buffer.from(raw, 'latin1');
  for (let i = 0; i < bytes.length; i += step) {
    const r = p.feed(bytes.subarray(i, i + step));
    if (r) return r;
  }
  return close ? p.end() : undefined;
}

const text = (r: ReturnType<typeof parse>) => (r?.kind === 'reply' ? r.body.toString('latin1') : undefined);

describe('HTTP/1.1 reply parser', () => {
  it('Content-Length: complete without waiting for the close, extra bytes ignored', () => {
    const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nRetry-After: 7\r\n\r\nhelloEXTRA', { close: false });
    expect(r).toMatchObject({ kind: 'reply', status: 200 });
    expect(text(r)).toBe('hello');
    expect(r?.kind === 'reply' && r.headers.get('retry-after')).toBe('7');
  });

  it('chunked, with extensions and trailers, in any split', () => {
    const raw =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-T: 1\r\n\r\n';
    for (const step of [1, 2, 5, 1000]) expect(text(parse(raw, { step, close: false }))).toBe('hello, world');
  });

  it('1xx heads are skipped; 204 has no body; no length means until the close', () => {
    expect(text(parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'))).toBe('ok');
    expect(parse('HTTP/1.1 204 No Content\r\n\r\n', { close: false })).toMatchObject({ kind: 'reply', status: 204 });
    expect(text(parse('HTTP/1.0 200 OK\r\n\r\nall of it'))).toBe('all of it');
  });

  it('a reply cut short is an ECONNRESET error, never a partial body', () => {
    expect(() => parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhal')).toThrow(
      expect.objectContaining({ code: 'ECONNRESET' }),
    );
    expect(() => parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel')).toThrow(/cut short/);
    expect(() => parse('HTTP/1.1 200 OK\r\nContent-')).toThrow(/cut short/);
  });

  it('bodies over the limit: declared, found while reading (chunked or until close)', () => {
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n', { close: false })).toEqual({
      kind: 'too-large',
      declared: 2000,
    });
    const big = 'x'.repeat(40);
    expect(
      parse(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n28\r\n${big}\r\n0\r\n\r\n`, { max: 10 }),
    ).toMatchObject({ kind: 'too-large' });
    expect(parse(`HTTP/1.1 200 OK\r\n\r\n${big}`, { max: 10 })).toMatchObject({ kind: 'too-large' });
  });

  it('malformed replies are errors', () => {
    for (const raw of [
      'HTTP/2 200\r\n\r\n',
      'hello\r\n\r\n',
      'HTTP/1.1 200 OK\r\nno colon\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n',
    ])
      expect(() => parse(raw, { step: 1000 }), raw).toThrow(/malformed/);
    expect(() => parse(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`)).toThrow(/head over/);
  });
});

describe('HTTP/1.1 request', () => {
  it('Host first, later names replace earlier ones case-insensitively, body after the head', () => {
    const b = requestBytes({
      method: 'POST',
      target: '/a?b=1',
      host: '127.0.0.1:8',
      headers: { connection: 'close', Connection: 'keep-alive', 'content-length': '2' },
      body: Buffer.from('{}'),
    });
    expect(b.toString('latin1')).toBe(
      'POST /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:8\r\nConnection: keep-alive\r\ncontent-length: 2\r\n\r\n{}',
    );
  });

  it('refuses header injection', () => {
    const req = { method: 'GET' as const, target: '/', host: 'h' };
    expect(() => requestBytes({ ...req, headers: { x: 'a\r\nInjected: 1' } })).toThrow(/invalid value/);
    expect(() => requestBytes({ ...req, headers: { 'x y': 'a' } })).toThrow(/invalid header name/);
    expect(() => requestBytes({ ...req, target: '/a b', headers: {} })).toThrow(/request line/);
  });
});

// Raw servers: replies node:http would never write, and ones that stop half-way.
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});
async function raw(onRequest: (socket: Socket, request: string) => void): Promise<string> {
  const s = createNetServer((socket) => {
    let got = '';
    socket.on('data', (d) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/content-length: (\d+)/i.exec(got)?.[1] ?? 0);
      if (got.length >= end + 4 + len) onRequest(socket, got);
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe('transport over a raw socket', () => {
  const t = createHttpTransport({ clock: realClock, timeoutMs: 2000, maxBodyBytes: 1024 });

  it('a chunked reply after a 100 Continue is read whole; the request carries the body and Connection: close', async () => {
    let request = '';
    const url = await raw((socket, req) => {
      request = req;
      socket.end(
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nf\r\n{"status":0,"ha\r\n8\r\nsh":"x"}\r\n0\r\n\r\n',
      );
    });
    expect(await t.post(url, '/p?q=1', { a: 1 }, { 'x-k': 'v' }, policyReply)).toMatchObject({
      kind: 'ok',
      value: { status: 0, hash: 'x' },
    });
    expect(request).toMatch(/^POST \/p\?q=1 HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
    expect(request).toContain('connection: close\r\n');
    expect(request).toContain('x-k: v\r\n');
    expect(request.endsWith('\r\n\r\n{"a":1}')).toBe(true);
  });

  it('a server that never answers: the timeout; one that closes early: a retry naming the cut', async () => {
    const quick = createHttpTransport({ clock: realClock, timeoutMs: 200, maxBodyBytes: 1024 });
    const silent = await raw(() => {});
    expect(await quick.get!(silent, '/p', {}, policyReply)).toMatchObject({
      kind: 'retry',
      reason: expect.stringMatching(/timed out after 200 ms/),
    });
    const cut = await raw((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"sta'));
    expect(await t.get!(cut, '/p', {}, policyReply)).toMatchObject({
      kind: 'retry',
      reason: expect.stringMatching(/server closed the connection before the reply was complete/),
    });
    const garbage = await raw((socket) => socket.end('SMTP ready\r\n\r\n'));
    expect(await t.get!(garbage, '/p', {}, policyReply)).toMatchObject({
      kind: 'retry',
      reason: expect.stringMatching(/malformed reply/),
    });
  });

  it('an abort signal ends the exchange at once with its reason', async () => {
    const silent = await raw(() => {});
    const ac = new AbortController();
    const p = t.get!(silent, '/p', {}, policyReply, ac.signal);
    setTimeout(() => ac.abort(new Error('stopping')), 20);
    expect(await p).toMatchObject({ kind: 'retry', reason: expect.stringMatching(/stopping/) });
  });
});
