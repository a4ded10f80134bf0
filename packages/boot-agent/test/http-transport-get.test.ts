import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { realClock } from '@aspire/agent-core';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpTransport } from '../src/net/http-transport.ts';
import { policyReply } from '../src/policy/policy-doc.ts';

// The GET the desired-state pull uses, against a real loopback server: same contract as the push.
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe('transport GET', () => {
  const t = createHttpTransport({ clock: realClock, timeoutMs: 5000, maxBodyBytes: 1024 });

  it('sends a bodiless GET with the headers and checks the JSON reply', async () => {
    let seen: { method?: string | undefined; url?: string | undefined; cred?: string; length?: string | undefined } =
      {};
    const url = await serve((req, res) => {
      seen = {
        method: req.method,
        url: req.url,
        cred: req.headers['x-aspire-credential'] as string,
        length: req.headers['content-length'],
      };
      res.setHeader('content-type', 'application/json').end('{"status":0,"hash":"x"}');
    });
    const r = await t.get!(url, '/api/v1/agent/policy?agentsn=a', { 'x-aspire-credential': 'c' }, policyReply);
    expect(r).toMatchObject({ kind: 'ok', value: { status: 0, hash: 'x' } });
    expect(seen).toEqual({ method: 'GET', url: '/api/v1/agent/policy?agentsn=a', cred: 'c', length: undefined });
  });

  it('a server gone mid-reply is a retry, a 401 is fatal, a reply over the cap is discarded', async () => {
    const cut = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"status":0,');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    expect((await t.get!(cut, '/p', {}, policyReply)).kind).toBe('retry');
    const denied = await serve((_req, res) => res.writeHead(401).end('{"status":401}'));
    expect(await t.get!(denied, '/p', {}, policyReply)).toMatchObject({ kind: 'fatal', status: 401 });
    const big = await serve((_req, res) => res.end(JSON.stringify({ pad: 'x'.repeat(4096) })));
    expect((await t.get!(big, '/p', {}, policyReply)).kind).toBe('retry');
  });
});
