import { existsSync, readFileSync } from 'node:fs';
import { createServer as httpCreateServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { createServer as tlsCreateServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, createSigner, generateSigningKeyPem, keyId, parsePublicKey } from '@aspire/protocol';
import {
  makeTestCa,
  startAspire,
  startBasicAgent,
  startBoot,
  waitUntil,
  type AspireHandle,
  type BasicAgentHandle,
  type BootHandle,
  type TestCa,
} from '@aspire/testing';

// Signed jobs and command frames (docs/security.md): the real server signs, the real agents
// verify against the key they pinned, and refuse what a stand-in on loopback forges.
let ca: TestCa;
let srv: AspireHandle;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  ca = makeTestCa();
  srv = await startAspire({ hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile } });
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await srv?.stop();
  ca?.cleanup();
});

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (s += c));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });

/**
 * A stand-in server on loopback in front of the real one: it relays every exchange, and when
 * `forge` is set it answers the next status push with those jobs instead of the real reply's.
 */
async function relayWithForgery(
  target: string,
): Promise<{ url: string; forge(jobs: unknown[]): void; forgedSent(): boolean; server: Server }> {
  let pending: unknown[] | undefined;
  let sent = false;
  const server = httpCreateServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      for (const h of ['x-aspire-credential', 'x-aspire-enroll'])
        if (typeof req.headers[h] === 'string') headers[h] = req.headers[h] as string;
      const r = await fetch(`${target}${req.url}`, {
        // A server request always has its method; GET is fetch's own default.
        method: req.method ?? 'GET',
        headers,
        ...(req.method === 'POST' ? { body } : {}),
      });
      let text = await r.text();
      if (pending && req.url === '/agent/status' && r.status === 200) {
        text = JSON.stringify({ ...(JSON.parse(text) as object), jobs: pending });
        pending = undefined;
        sent = true;
      }
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(text);
    })().catch((err: unknown) => res.writeHead(502).end(String(err)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    forge: (jobs) => {
      pending = jobs;
      sent = false;
    },
    forgedSent: () => sent,
    server,
  };
}

describe('BootAgent: signed jobs', () => {
  let boot: BootHandle;
  let relay: Awaited<ReturnType<typeof relayWithForgery>>;
  let agentsn: string;

  beforeAll(async () => {
    relay = await relayWithForgery(srv.url);
    cleanups.push(() => new Promise<void>((r) => relay.server.close(() => r())));
    boot = await startBoot({ serverUrl: relay.url, enrollSecret: srv.enrollSecret, step: 1 });
    cleanups.push(async () => {
      await boot.stop();
      boot.cleanup();
    });
    agentsn = (await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta()!.agentsn : undefined), {
      timeoutMs: 30_000,
      what: 'boot registered',
    })) as string;
  });

  it('pins the key of the register reply in identity/server-signing.pub', () => {
    const pin = join(boot.stateDir, 'identity', 'server-signing.pub');
    expect(existsSync(pin)).toBe(true);
    expect(readFileSync(pin, 'utf8')).toContain(srv.signingKey);
  });

  it('runs a job the real server signed', async () => {
    const r = await srv.api('POST', '/api/v1/server/task', {
      command: 'config',
      agents: [agentsn],
      parameters: { tags: 'role=signed' },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const t = await waitUntil(
      async () => {
        const x = await srv.api('GET', `/api/v1/server/task?id=${r.body.id as number}`);
        return x.body.task?.status === 'COMPLETE' ? x.body : undefined;
      },
      { timeoutMs: 30_000, what: 'signed config task done', intervalMs: 200 },
    );
    expect(t.subtasks[0]).toMatchObject({ state: 'SUCCESS', errcode: 0 });
    expect(boot.readMeta()?.tags).toBe('role=signed');
  });

  it('refuses an unsigned job and one signed with another key from a forged reply: events, nothing run', async () => {
    const forger = createSigner(generateSigningKeyPem());
    const expires = Date.now() + 600_000;
    relay.forge([
      { id: 'forged-unsigned', action: 'config', tags: 'pwned=1' },
      forger.sign('job', { id: 'forged-badsig', action: 'config', tags: 'pwned=2' }, agentsn, expires),
      // The real key id on a signature made with another key.
      {
        ...forger.sign('job', { id: 'forged-kid', action: 'config', tags: 'pwned=3' }, agentsn, expires),
        kid: keyId(parsePublicKey(srv.signingKey)!),
      },
    ]);
    await waitUntil(() => relay.forgedSent(), { timeoutMs: 20_000, what: 'forged reply sent' });
    // The refusals reach the real server as events (kind refused, with the code) on the next pushes.
    const events = await waitUntil(
      async () => {
        const ev = await srv.api('GET', `/api/v1/server/event?agentsn=${agentsn}&kind=refused&limit=100`);
        const list = (ev.body.events ?? []) as {
          kind: string;
          message: string;
          data?: { jobId?: string; errcode?: number };
        }[];
        return list.filter((e) => e.data?.jobId?.startsWith('forged-')).length >= 3 ? list : undefined;
      },
      { timeoutMs: 30_000, what: 'refused events on the server', intervalMs: 200 },
    );
    const byJob = Object.fromEntries(events.map((e) => [e.data!.jobId!, e]));
    expect(byJob['forged-unsigned']!.data!.errcode).toBe(ErrorCode.SIGNATURE_MISSING);
    expect(byJob['forged-badsig']!.data!.errcode).toBe(ErrorCode.SIGNATURE_INVALID);
    expect(byJob['forged-kid']!.data!.errcode).toBe(ErrorCode.SIGNATURE_INVALID);
    expect(byJob['forged-unsigned']!.message).toMatch(/Not signed by the server/);
    // Answered with the code (until acknowledged), never run: the tags are the signed job's. Their
    // ids leave no tombstone: a flood of forged ids must not push real ones out of the journal.
    const journal = boot.readJournal()!;
    for (const id of ['forged-unsigned', 'forged-badsig', 'forged-kid']) {
      expect(
        journal.acked.some((j) => j.id === id),
        id,
      ).toBe(false);
      const open = journal.jobs.find((j) => j.id === id);
      if (open) expect(open.errcode, id).toBe(byJob[id]!.data!.errcode);
    }
    expect(boot.readMeta()?.tags).toBe('role=signed');
    expect(
      boot.logLines().some((l) => /job running/.test(String(l.msg)) && String(l.jobId).startsWith('forged-')),
    ).toBe(false);
  });
});

/** A stand-in hub (real TLS with the test CA's server certificate) that sends frames to a real BasicAgent. */
async function standInHub(): Promise<{
  port: number;
  send(frame: Record<string, unknown>): Promise<any>;
  connected(): boolean;
  server: TlsServer;
}> {
  let socket: TLSSocket | undefined;
  let buf = '';
  const waiters = new Map<string, (r: unknown) => void>();
  const server = tlsCreateServer(
    { cert: readFileSync(ca.serverCertFile), key: readFileSync(ca.serverKeyFile) },
    (s) => {
      s.setEncoding('utf8');
      s.on('error', () => {});
      s.on('data', (chunk: string) => {
        buf += chunk;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const frame = JSON.parse(buf.slice(0, nl)) as { method?: string; id?: string; resp?: string; ts?: number };
          buf = buf.slice(nl + 1);
          if (frame.method === 'init') {
            socket = s;
            s.write(`${JSON.stringify({ method: 'accept' })}\n`);
          } else if (frame.method === 'ping') s.write(`${JSON.stringify({ method: 'pong', ts: frame.ts })}\n`);
          else if (frame.resp !== undefined && frame.id !== undefined) waiters.get(frame.id)?.(frame);
        }
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    connected: () => socket !== undefined,
    server,
    send(frame) {
      return new Promise((resolve) => {
        waiters.set(String(frame.id), resolve);
        socket!.write(`${JSON.stringify(frame)}\n`);
      });
    },
  };
}

describe('BasicAgent: signed command frames', () => {
  const polaris = (body: Record<string, unknown>) => srv.api('POST', '/api/v1/server/polaris', body);

  it('runs a command the real hub signed; an agent pinned to another key refuses it', async () => {
    const good = await startBasicAgent({
      port: srv.hubAddress!.port,
      caFile: ca.caCertFile,
      hostname: 'trust-good',
      agentsn: 'sn-trust-good',
    });
    cleanups.push(() => good.stop());
    const r = await polaris({ hosts: ['trust-good'], method: 'sync.bash', cmd: 'echo signed-ok' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.response[0]).toMatchObject({ resp: 'success', retcode: 0, data: 'signed-ok\n' });

    const other = createSigner(generateSigningKeyPem());
    const wrong = await startBasicAgent({
      port: srv.hubAddress!.port,
      caFile: ca.caCertFile,
      hostname: 'trust-wrongpin',
      agentsn: 'sn-trust-wrongpin',
      signingKeys: [other.publicKey],
    });
    cleanups.push(() => wrong.stop());
    const marker = join(wrong.dir, 'ran');
    const w = await polaris({ hosts: ['trust-wrongpin'], method: 'sync.bash', cmd: `touch ${marker}` });
    expect(w.body.response[0]).toMatchObject({ resp: 'failed', retcode: ErrorCode.SIGNATURE_INVALID });
    expect(existsSync(marker)).toBe(false);
    await waitUntil(() => /command frame refused/.test(wrong.child.output), {
      timeoutMs: 10_000,
      what: 'refusal logged',
    });
  });

  describe('with a stand-in hub and a test key the agent pinned', () => {
    const key = createSigner(generateSigningKeyPem());
    let hub: Awaited<ReturnType<typeof standInHub>>;
    let agent: BasicAgentHandle;
    const SN = 'sn-trust-standin';
    let n = 0;
    const frame = (cmd: string) => ({ id: `f-${++n}`, method: 'sync.bash', cmd, timeout: 5 });

    beforeAll(async () => {
      hub = await standInHub();
      cleanups.push(() => new Promise<void>((r) => hub.server.close(() => r())));
      agent = await startBasicAgent({
        port: hub.port,
        caFile: ca.caCertFile,
        hostname: 'trust-standin',
        agentsn: SN,
        signingKeys: [key.publicKey],
      });
      cleanups.push(() => agent.stop());
      await waitUntil(() => hub.connected(), { timeoutMs: 20_000, what: 'agent connected to the stand-in hub' });
    });

    it('a correctly signed frame runs; the same frame again is refused as replayed and does not run twice', async () => {
      const counter = join(agent.dir, 'count');
      const signed = key.sign('frame', frame(`echo x >> ${counter}`), SN, Date.now() + 60_000);
      expect(await hub.send(signed)).toMatchObject({ id: signed.id, resp: 'success', retcode: 0 });
      const again = await hub.send(signed);
      expect(again).toMatchObject({ id: signed.id, resp: 'failed', retcode: ErrorCode.SIGNATURE_REPLAYED });
      expect(again.message).toMatch(/Replayed/);
      expect(readFileSync(counter, 'utf8')).toBe('x\n');
    });

    it('refuses expired, unsigned, tampered and mis-addressed frames; none runs', async () => {
      const marker = (k: string) => join(agent.dir, `ran-${k}`);
      const expired = key.sign('frame', frame(`touch ${marker('expired')}`), SN, Date.now() - 1000);
      expect(await hub.send(expired)).toMatchObject({ resp: 'failed', retcode: ErrorCode.SIGNATURE_EXPIRED });
      const unsigned = frame(`touch ${marker('unsigned')}`);
      expect(await hub.send(unsigned)).toMatchObject({ resp: 'failed', retcode: ErrorCode.SIGNATURE_MISSING });
      const tampered = {
        ...key.sign('frame', frame('echo harmless'), SN, Date.now() + 60_000),
        cmd: `touch ${marker('tampered')}`,
      };
      expect(await hub.send(tampered)).toMatchObject({ resp: 'failed', retcode: ErrorCode.SIGNATURE_INVALID });
      const elsewhere = key.sign(
        'frame',
        frame(`touch ${marker('elsewhere')}`),
        'sn-someone-else',
        Date.now() + 60_000,
      );
      expect(await hub.send(elsewhere)).toMatchObject({ resp: 'failed', retcode: ErrorCode.SIGNATURE_WRONG_TARGET });
      for (const k of ['expired', 'unsigned', 'tampered', 'elsewhere']) expect(existsSync(marker(k)), k).toBe(false);
      // Still serving: a good frame after the refusals runs.
      expect(await hub.send(key.sign('frame', frame('echo still'), SN, Date.now() + 60_000))).toMatchObject({
        resp: 'success',
        data: 'still\n',
      });
    });
  });
});
