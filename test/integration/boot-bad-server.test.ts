// Issue 2, bad input from a server: malformed JSON, a 500, an unknown action, a malformed job,
// a 10 MB body (streamed and declared), Retry-After, a server that never answers and one that
// vanishes mid-reply. A small misbehaving HTTP server on loopback
// plays the server; the agent is the real `boot`. It logs a clear error each time and goes on.
// The stand-in signs its jobs with a test key the boot pins (boot.json `serverPublicKey`), as the
// real server does, so the bad jobs are refused for what is wrong in them, not for a signature.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ErrorCode, createSigner, generateSigningKeyPem } from '@aspire/protocol';
import { startBoot, waitUntil, type BootHandle } from '@aspire/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Mode = 'jobs' | 'malformed' | '500' | 'huge-streamed' | 'huge-declared' | 'retry-after' | 'hang' | 'cut' | 'ok';
const script: Mode[] = ['jobs', 'malformed', '500', 'huge-streamed', 'huge-declared', 'retry-after', 'hang', 'cut'];

interface Seen {
  mode: Mode;
  at: number;
  body: { jobs: { id: string; errcode: number; message: string }[]; agentsn: string };
  completed?: boolean;
}

const seen: Seen[] = [];
let inFlight = 0;
let maxInFlight = 0;
let server: Server;
let url: string;
let boot: BootHandle;
const TEN_MB = 10 * 1024 * 1024;
const serverKey = createSigner(generateSigningKeyPem());

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (s += c));
    req.on('end', () => resolve(s));
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = JSON.parse(await readBody(req));
  if (req.url === '/agent/register') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: 0, agentsn: body.agentsn, credential: 'cred' }));
    return;
  }
  inFlight++;
  maxInFlight = Math.max(maxInFlight, inFlight);
  res.on('close', () => inFlight--);
  const mode = script.shift() ?? 'ok';
  const s: Seen = { mode, at: Date.now(), body };
  seen.push(s);
  const json = (code: number, v: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(typeof v === 'string' ? v : JSON.stringify(v));
  };
  switch (mode) {
    case 'jobs':
      return json(200, {
        status: 0,
        jobs: [
          serverKey.sign(
            'job',
            { id: 'u-1', action: 'teleport', name: 'BasicAgent' },
            body.agentsn,
            Date.now() + 600_000,
          ),
          serverKey.sign('job', { id: 'bad-1', action: 'config', step: 'often' }, body.agentsn, Date.now() + 600_000),
          { noid: true },
        ],
      });
    case 'malformed':
      return json(200, '{"status": 0, "jobs": [');
    case '500':
      return json(500, 'internal error');
    case 'hang':
      return; // never answers: the agent's request timeout (httpTimeoutSec 1) ends it
    case 'cut':
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
      res.write('{"status": 0, "jobs": [{"id": "x"');
      setTimeout(() => res.socket?.destroy(), 50);
      return;
    case 'retry-after':
      res.writeHead(503, { 'retry-after': '2' });
      res.end('busy');
      return;
    case 'huge-streamed':
    case 'huge-declared': {
      const headers: Record<string, string | number> = { 'content-type': 'application/json' };
      if (mode === 'huge-declared') headers['content-length'] = TEN_MB;
      res.writeHead(200, headers);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < TEN_MB) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
        s.completed = true;
      };
      res.on('error', () => undefined);
      pump();
      return;
    }
    default:
      return json(200, { status: 0, jobs: [] });
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    handle(req, res).catch(() => {
      res.statusCode = 400;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  boot = await startBoot({
    serverUrl: url,
    step: 1,
    config: { httpTimeoutSec: 1, serverPublicKey: serverKey.publicKey },
  });
});

afterAll(async () => {
  await boot?.stop();
  server?.closeAllConnections();
  await new Promise<void>((r) => server?.close(() => r()));
  boot?.cleanup();
});

describe('bad input from a server', () => {
  it('logs a clear error for each and keeps pushing; bad jobs are answered, never dropped', async () => {
    await waitUntil(() => seen.filter((s) => s.mode === 'ok').length >= 2, {
      timeoutMs: 60_000,
      what: 'pushes after the bad replies',
    });
    expect(boot.child.proc.exitCode).toBeNull();
    const msgs = boot.logLines().map((l) => String(l.msg));
    const has = (re: RegExp) =>
      expect(
        msgs.some((m) => re.test(m)),
        `log line ${re} in:\n${msgs.join('\n')}`,
      ).toBe(true);
    has(/^status push to .* failed: malformed JSON: .+ in reply from http:\/\/127\.0\.0\.1:\d+/);
    has(/^status push to .* failed: HTTP 500 from http:\/\/127\.0\.0\.1:\d+: "internal error"/);
    has(/^status push to .* failed: reply from .* exceeds the 1048576-byte limit; discarded after \d+ bytes/);
    has(/^status push to .* failed: reply of 10485760 bytes from .* exceeds the 1048576-byte limit; discarded/);
    has(/^status push to .* failed: HTTP 503 from/);
    has(/^status push to .* failed: http:\/\/127\.0\.0\.1:\d+: timed out after 1000 ms/);
    has(
      /^status push to .* failed: http:\/\/127\.0\.0\.1:\d+: server closed the connection before the reply was complete/,
    );
    has(/^job answered without running: Unsupported action: "teleport"/);
    has(/^job answered without running: Invalid job/);
    has(/^job without a usable id/);

    // The 10 MB bodies were cut off, not read to the end.
    expect(seen.find((s) => s.mode === 'huge-streamed')!.completed).not.toBe(true);
    expect(seen.find((s) => s.mode === 'huge-declared')!.completed).not.toBe(true);
    // Retry-After: 2 was honoured (the step is 1 s).
    const i = seen.findIndex((s) => s.mode === 'retry-after');
    expect(seen[i + 1]!.at - seen[i]!.at).toBeGreaterThanOrEqual(1900);
    // One request in flight at most.
    expect(maxInFlight).toBe(1);

    // The answers to the bad jobs went out in every push until one was answered 2xx with a good body.
    const carried = seen.filter((s) => s.body.jobs.length > 0);
    expect(carried.map((s) => s.mode)).toEqual([
      'malformed',
      '500',
      'huge-streamed',
      'huge-declared',
      'retry-after',
      'hang',
      'cut',
      'ok',
    ]);
    const results = Object.fromEntries(carried[0]!.body.jobs.map((j) => [j.id, j]));
    expect(results['u-1']!.errcode).toBe(ErrorCode.JOB_UNSUPPORTED_ACTION);
    expect(results['bad-1']!.errcode).toBe(ErrorCode.JOB_INVALID);
    expect(results['bad-1']!.message).toMatch(/step/);
    const oks = seen.filter((s) => s.mode === 'ok');
    expect(oks[oks.length - 1]!.body.jobs).toEqual([]);
  });
});
