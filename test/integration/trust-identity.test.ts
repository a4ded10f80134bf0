// Host identity on the command channel (docs/security.md "Host identity"), with the real server
// (its own host CA, made on first start), a real BootAgent that registers and renews its client
// certificate through the status push, a real BasicAgent that presents it, and raw TLS clients
// playing impostors. Certificates live 20 s here, so renewal happens within the test.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import {
  enrollHost,
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

const HOST = 'trust-host';
const LIFETIME_SEC = 20;

let ca: TestCa;
let srv: AspireHandle;
let boot: BootHandle;
let agent: BasicAgentHandle;
let agentsn: string;
const cleanup: (() => Promise<void> | void)[] = [];

const identity = (stateDir: string) => ({
  cert: join(stateDir, 'identity', 'host.crt'),
  key: join(stateDir, 'identity', 'host.key'),
  ca: join(stateDir, 'identity', 'ca.crt'),
});
const polaris = (hosts: string[], cmd: string) =>
  srv.api('POST', '/api/v1/server/polaris', { hosts, method: 'sync.bash', cmd });

/** A raw TLS client that sends one init and reports what came back and how it ended. */
function tryInit(
  init: Record<string, unknown>,
  client?: { cert: string; key: string },
): Promise<{ frames: Record<string, unknown>[]; ended: string }> {
  return new Promise((resolve) => {
    const s = tlsConnect(
      { host: '127.0.0.1', port: srv.hubAddress!.port, servername: 'localhost', ca: ca.caCert, ...client },
      () => {
        s.write(`${JSON.stringify({ method: 'init', ...init })}\n`);
      },
    );
    let got = '';
    let ended = 'closed';
    s.on('data', (d) => (got += d.toString()));
    s.on('error', (err) => (ended = `error: ${err.message}`));
    s.on('close', () =>
      resolve({
        frames: got
          .split('\n')
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l) as Record<string, unknown>),
        ended,
      }),
    );
    // An accepted connection stays open: end it after a while so the answer is complete.
    setTimeout(() => s.end(), 3000);
  });
}

const pemOf = (h: { certFile: string; keyFile: string }) => ({
  cert: readFileSync(h.certFile, 'utf8'),
  key: readFileSync(h.keyFile, 'utf8'),
});

/** A raw TLS client that sends one init and stays connected: every frame it gets, and whether the server closed it. */
function holdChannel(
  init: Record<string, unknown>,
  client: { cert: string; key: string },
): Promise<{ frames: Record<string, unknown>[]; closed: () => boolean; end: () => void }> {
  return new Promise((resolve) => {
    const frames: Record<string, unknown>[] = [];
    let buf = '';
    let closed = false;
    const s = tlsConnect(
      { host: '127.0.0.1', port: srv.hubAddress!.port, servername: 'localhost', ca: ca.caCert, ...client },
      () => {
        s.write(`${JSON.stringify({ method: 'init', ...init })}\n`);
        resolve({ frames, closed: () => closed, end: () => s.destroy() });
      },
    );
    s.on('data', (d) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l.trim()) frames.push(JSON.parse(l) as Record<string, unknown>);
    });
    s.on('error', () => {});
    s.on('close', () => (closed = true));
  });
}

/** A status push as the host's BootAgent makes it, with its credential. */
const pushAs = (host: { agentsn: string; credentials: Map<string, string> }, hostname: string) =>
  srv.api(
    'POST',
    '/agent/status',
    {
      hostname,
      agentsn: host.agentsn,
      version: 't',
      uptime: 1,
      timestamp: Math.floor(Date.now() / 1000),
      step: 60,
      agents: [],
      jobs: [],
      events: [],
      os: 'linux',
      arch: 'x86_64',
    },
    { token: null, headers: { 'x-aspire-credential': host.credentials.get(srv.url)! } },
  );

beforeAll(async () => {
  ca = makeTestCa();
  srv = await startAspire({
    ownHostCa: true,
    hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile },
    config: { hostCertLifetimeSec: LIFETIME_SEC },
  });
  boot = await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step: 1, config: { hostname: HOST } });
  await waitUntil(() => boot.readMeta()?.trusted === true && existsSync(identity(boot.stateDir).cert), {
    timeoutMs: 30_000,
    what: 'boot registered with a certificate',
  });
  agentsn = boot.readMeta()!.agentsn;
  const id = identity(boot.stateDir);
  agent = await startBasicAgent({
    port: srv.hubAddress!.port,
    caFile: ca.caCertFile,
    hostname: HOST,
    identity: { certFile: id.cert, keyFile: id.key },
    config: { bootMetafile: join(boot.stateDir, 'meta.json') },
  });
}, 90_000);

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
  await agent?.stop();
  await boot?.stop();
  boot?.cleanup();
  await srv?.stop();
  ca?.cleanup();
});

describe('the host CA and the BootAgent identity', () => {
  it('the server made its host CA on first start, key 0600', () => {
    const key = join(srv.dataDir, 'host-ca', 'ca.key');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(new X509Certificate(readFileSync(join(srv.dataDir, 'host-ca', 'ca.crt'))).ca).toBe(true);
  });

  it('a real BootAgent registered with a CSR: key 0600, a certificate bound to its agentsn, signed by the host CA', () => {
    const id = identity(boot.stateDir);
    expect(statSync(id.key).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(readFileSync(id.cert));
    const caCert = new X509Certificate(readFileSync(id.ca));
    expect(cert.subject).toBe(`CN=${agentsn}`);
    expect(cert.subjectAltName).toBe(`URI:urn:aspire:agentsn:${agentsn}`);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(caCert.fingerprint256).toBe(
      new X509Certificate(readFileSync(join(srv.dataDir, 'host-ca', 'ca.crt'))).fingerprint256,
    );
    const lifetime = Date.parse(cert.validTo) - Date.parse(cert.validFrom);
    // 20 s plus the tenth the server backdates for clock skew (5 min for long lifetimes).
    expect(lifetime).toBe(LIFETIME_SEC * 1100);
    expect(boot.child.output + readFileSync(boot.logFile, 'utf8')).not.toContain('PRIVATE KEY');
  });

  it('the BasicAgent connects with it and a Polaris sync.bash reaches it, by hostname and by agentsn', async () => {
    expect((await polaris([HOST], 'echo hi')).body.response[0]).toMatchObject({
      resp: 'success',
      retcode: 0,
      data: 'hi\n',
    });
    expect((await polaris([agentsn], 'echo by-sn')).body.response[0]).toMatchObject({
      resp: 'success',
      data: 'by-sn\n',
    });
    const agents = (await srv.api('GET', '/api/v1/server/polaris/agents')).body.agents;
    expect(agents).toEqual([expect.objectContaining({ hostname: HOST, agentsn })]);
  });
});

describe('the hub refuses what is not the host', () => {
  it('an impostor with the CA but no host certificate gets no channel', async () => {
    const r = await tryInit({ hostname: HOST, agentsn });
    expect(r.frames.some((f) => f.method === 'accept')).toBe(false);
    expect(r.ended).toMatch(/error: .*certificate|closed/i);
    await waitUntil(() => /hub: TLS handshake failed/.test(srv.child.output), {
      timeoutMs: 10_000,
      what: 'the refusal logged',
    });
    expect((await polaris([HOST], 'echo still-mine')).body.response[0]).toMatchObject({
      resp: 'success',
      data: 'still-mine\n',
    });
  });

  it("host A's certificate claiming host B in init is refused, logged, and recorded as an event on A", async () => {
    const a = await enrollHost([srv], { hostname: 'host-a-id', dir: mkdtempSync(join(tmpdir(), 'trust-a-')) });
    const bySn = await tryInit({ hostname: HOST, agentsn }, pemOf(a));
    expect(bySn.frames).toEqual([expect.objectContaining({ resp: 'failed', retcode: ErrorCode.IDENTITY_MISMATCH })]);
    expect(String(bySn.frames[0]!.message)).toContain(`init claims agentsn ${agentsn}`);
    // Only the hostname: the hub checks it against the certificate's host too.
    const byName = await tryInit({ hostname: HOST }, pemOf(a));
    expect(byName.frames).toEqual([expect.objectContaining({ resp: 'failed', retcode: ErrorCode.IDENTITY_MISMATCH })]);
    await waitUntil(() => (srv.child.output.match(/init refused \(host identity\)/g) ?? []).length >= 2, {
      timeoutMs: 10_000,
      what: 'refusals logged',
    });
    expect(srv.child.output).toContain(`init claims agentsn ${agentsn} with the certificate of ${a.agentsn}`);
    const events = (await srv.api('GET', `/api/v1/server/event?agentsn=${a.agentsn}`)).body.events as {
      kind: string;
      category: number;
      message: string;
    }[];
    expect(events.filter((e) => e.kind === 'refused' && e.category === 0)).toHaveLength(2);
    // The real host still has its channel; A with its own identity is accepted.
    expect((await polaris([HOST], 'echo mine')).body.response[0]).toMatchObject({ resp: 'success', data: 'mine\n' });
    const own = await tryInit({ hostname: 'host-a-id', agentsn: a.agentsn }, pemOf(a));
    expect(own.frames[0]).toEqual({ method: 'accept' });
  });

  it("a deleted host's certificate is refused, and it can register again only after an operator reset", async () => {
    const d = await enrollHost([srv], { hostname: 'doomed', dir: mkdtempSync(join(tmpdir(), 'trust-d-')) });
    expect((await tryInit({ hostname: 'doomed', agentsn: d.agentsn }, pemOf(d))).frames[0]).toEqual({
      method: 'accept',
    });
    expect((await srv.api('DELETE', `/api/v1/server/host?agentsn=${d.agentsn}`)).status).toBe(200);
    const r = await tryInit({ hostname: 'doomed', agentsn: d.agentsn }, pemOf(d));
    expect(r.frames).toEqual([expect.objectContaining({ resp: 'failed', retcode: ErrorCode.IDENTITY_HOST_UNKNOWN })]);
    const register = (headers: Record<string, string>) =>
      srv.api(
        'POST',
        '/agent/register',
        { hostname: 'doomed', agentsn: d.agentsn },
        { token: null, headers: { 'x-aspire-enroll': srv.enrollSecret, ...headers } },
      );
    const refused = await register({ 'x-aspire-credential': d.credentials.get(srv.url)! });
    expect(refused.status).toBe(403);
    expect(refused.body.cert).toBeUndefined();
    expect((await srv.api('POST', `/api/v1/server/host/${d.agentsn}/reset`)).status).toBe(200);
    const again = await register({});
    expect(again.status).toBe(200);
    expect(again.body.agentsn).toBe(d.agentsn);
  });
});

describe('registration takeover (issue 16 item 6)', () => {
  it('re-registering an existing agentsn needs its credential or an operator reset; another hostname gets a fresh agentsn', async () => {
    const v = await enrollHost([srv], { hostname: 'victim', dir: mkdtempSync(join(tmpdir(), 'trust-v-')) });
    const credential = v.credentials.get(srv.url)!;
    const register = (hostname: string, headers: Record<string, string> = {}) =>
      srv.api(
        'POST',
        '/agent/register',
        { hostname, agentsn: v.agentsn },
        { token: null, headers: { 'x-aspire-enroll': srv.enrollSecret, ...headers } },
      );
    const push = (cred: string) =>
      srv.api(
        'POST',
        '/agent/status',
        {
          hostname: 'victim',
          agentsn: v.agentsn,
          version: 't',
          uptime: 1,
          timestamp: Math.floor(Date.now() / 1000),
          step: 60,
          agents: [],
          jobs: [],
          events: [],
          os: 'linux',
          arch: 'x86_64',
        },
        { token: null, headers: { 'x-aspire-credential': cred } },
      );

    // With the enroll secret alone: refused, and the real host keeps its credential.
    const takeover = await register('victim');
    expect(takeover.status).toBe(409);
    expect(takeover.body.credential).toBeUndefined();
    expect(takeover.body.cause).toContain('x-aspire-credential');
    expect((await push(credential)).status).toBe(200);

    // The host itself (its credential) may register again: same agentsn, a new credential.
    const own = await register('victim', { 'x-aspire-credential': credential });
    expect(own.status).toBe(200);
    expect(own.body.agentsn).toBe(v.agentsn);
    expect((await push(own.body.credential)).status).toBe(200);

    // Another hostname asking for the agentsn: the design's conflict rule, a fresh agentsn.
    const other = await register('someone-else');
    expect(other.status).toBe(200);
    expect(other.body.agentsn).not.toBe(v.agentsn);

    // After an operator reset, the same hostname registers without proof.
    expect((await srv.api('POST', `/api/v1/server/host/${v.agentsn}/reset`)).status).toBe(200);
    const afterReset = await register('victim');
    expect(afterReset.status).toBe(200);
    expect(afterReset.body.agentsn).toBe(v.agentsn);
  });
});

describe('hostnames cannot be taken over (security review, finding 1)', () => {
  it("host A pushing B's hostname does not take it over: B keeps it, A keeps its own, and a Polaris request by that hostname does not reach A", async () => {
    const a = await enrollHost([srv], { hostname: 'copycat', dir: mkdtempSync(join(tmpdir(), 'trust-copy-')) });
    expect((await pushAs(a, HOST)).status).toBe(200);
    const hostnameOf = async (sn: string) =>
      ((await srv.api('GET', `/api/v1/server/agent?agentsn=${sn}`)).body.host as { hostname: string }).hostname;
    expect(await hostnameOf(a.agentsn)).toBe('copycat');
    expect(await hostnameOf(agentsn)).toBe(HOST);
    const events = (await srv.api('GET', `/api/v1/server/event?agentsn=${a.agentsn}`)).body.events as {
      kind: string;
      category: number;
      message: string;
    }[];
    expect(events).toContainEqual(
      expect.objectContaining({
        kind: 'refused',
        category: 0,
        message: expect.stringContaining(`which host ${agentsn} holds: kept "copycat"`),
      }),
    );
    // Reconnecting with B's hostname is refused: the hub checks the init against the hostname kept.
    expect((await tryInit({ hostname: HOST }, pemOf(a))).frames).toEqual([
      expect.objectContaining({ resp: 'failed', retcode: ErrorCode.IDENTITY_MISMATCH }),
    ]);
    // A connected as itself gets nothing of a request addressed to B's hostname; B answers it.
    const chan = await holdChannel({ hostname: 'copycat', agentsn: a.agentsn }, pemOf(a));
    await waitUntil(() => chan.frames.length > 0, { timeoutMs: 15_000, what: 'A accepted' });
    expect(chan.frames).toEqual([{ method: 'accept' }]);
    expect((await polaris([HOST], 'echo for-b')).body.response[0]).toMatchObject({
      host: HOST,
      resp: 'success',
      data: 'for-b\n',
    });
    expect(chan.frames).toEqual([{ method: 'accept' }]);
    // A rename to a free hostname is still applied.
    chan.end();
    expect((await pushAs(a, 'copycat-renamed')).status).toBe(200);
    expect(await hostnameOf(a.agentsn)).toBe('copycat-renamed');
  });

  it('a hostname two connected hosts carry is ambiguous: the request goes to neither, answered with the code', async () => {
    const one = await enrollHost([srv], { hostname: 'twin', dir: mkdtempSync(join(tmpdir(), 'trust-twin1-')) });
    const two = await enrollHost([srv], { hostname: 'twin', dir: mkdtempSync(join(tmpdir(), 'trust-twin2-')) });
    const c1 = await holdChannel({ hostname: 'twin', agentsn: one.agentsn }, pemOf(one));
    const c2 = await holdChannel({ hostname: 'twin', agentsn: two.agentsn }, pemOf(two));
    await waitUntil(() => c1.frames.length > 0 && c2.frames.length > 0, {
      timeoutMs: 15_000,
      what: 'both twins accepted',
    });
    const r = await polaris(['twin'], 'echo which');
    expect(r.body.response[0]).toMatchObject({
      host: 'twin',
      resp: 'failed',
      retcode: ErrorCode.IDENTITY_HOSTNAME_AMBIGUOUS,
    });
    expect(String(r.body.response[0].message)).toMatch(/ambiguous hostname, use the agentsn/i);
    expect(c1.frames).toEqual([{ method: 'accept' }]);
    expect(c2.frames).toEqual([{ method: 'accept' }]);
    c1.end();
    c2.end();
  });

  it('a token scoped to an agentsn does not cover a host the hub reaches by that name as its hostname', async () => {
    // D is in the token's scope but not connected; E registered with D's agentsn as its hostname.
    const d = await enrollHost([srv], { hostname: 'scoped-d', dir: mkdtempSync(join(tmpdir(), 'trust-sd-')) });
    const e = await enrollHost([srv], { hostname: d.agentsn, dir: mkdtempSync(join(tmpdir(), 'trust-se-')) });
    const chan = await holdChannel({ hostname: d.agentsn, agentsn: e.agentsn }, pemOf(e));
    await waitUntil(() => chan.frames.length > 0, { timeoutMs: 15_000, what: 'E accepted' });
    expect(chan.frames).toEqual([{ method: 'accept' }]);
    const token = await srv.createToken('scoped-to-d', ['--role', 'operator', '--agentsn', d.agentsn]);
    const r = await srv.api(
      'POST',
      '/api/v1/server/polaris',
      { hosts: [d.agentsn], method: 'sync.bash', cmd: 'id' },
      { token },
    );
    expect(r.status).toBe(403);
    expect(String(r.body.cause)).toContain('hosts outside the scope');
    expect(chan.frames).toEqual([{ method: 'accept' }]);
    chan.end();
  });
});

describe('only the current certificate is a host (security review, finding 2)', () => {
  it('delete closes the live channel; after delete, reset and re-registration the old certificate is refused, the new one accepted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trust-leak-'));
    const first = await enrollHost([srv], { hostname: 'leaky', dir });
    const old = pemOf(first);
    const live = await holdChannel({ hostname: 'leaky', agentsn: first.agentsn }, old);
    await waitUntil(() => live.frames.length > 0, { timeoutMs: 15_000, what: 'leaky accepted' });
    expect(live.frames).toEqual([{ method: 'accept' }]);
    expect((await srv.api('DELETE', `/api/v1/server/host?agentsn=${first.agentsn}`)).status).toBe(200);
    await waitUntil(() => live.closed(), {
      timeoutMs: 15_000,
      what: "the deleted host's channel closed by the server",
    });
    expect(srv.child.output).toContain('hub: channel closed by the server');

    expect((await srv.api('POST', `/api/v1/server/host/${first.agentsn}/reset`)).status).toBe(200);
    // Reset, not registered again yet: no certificate is the host's.
    const afterReset = await tryInit({ hostname: 'leaky', agentsn: first.agentsn }, old);
    expect(afterReset.frames).toEqual([
      expect.objectContaining({ resp: 'failed', retcode: ErrorCode.IDENTITY_CERT_SUPERSEDED }),
    ]);

    const again = await enrollHost([srv], {
      hostname: 'leaky',
      agentsn: first.agentsn,
      dir: mkdtempSync(join(tmpdir(), 'trust-leak2-')),
    });
    expect(again.agentsn).toBe(first.agentsn);
    const refused = await tryInit({ hostname: 'leaky', agentsn: first.agentsn }, old);
    expect(refused.frames).toEqual([
      expect.objectContaining({ resp: 'failed', retcode: ErrorCode.IDENTITY_CERT_SUPERSEDED }),
    ]);
    expect(String(refused.frames[0]!.message)).toContain("not the host's current one");
    const events = (await srv.api('GET', `/api/v1/server/event?agentsn=${first.agentsn}`)).body.events as {
      kind: string;
      data: { errcode?: number } | null;
    }[];
    expect(events.some((e) => e.kind === 'refused' && e.data?.errcode === ErrorCode.IDENTITY_CERT_SUPERSEDED)).toBe(
      true,
    );

    const current = await holdChannel({ hostname: 'leaky', agentsn: first.agentsn }, pemOf(again));
    await waitUntil(() => current.frames.length > 0, { timeoutMs: 15_000, what: 'the new certificate accepted' });
    expect(current.frames).toEqual([{ method: 'accept' }]);
    // A reset closes the live channel too.
    expect((await srv.api('POST', `/api/v1/server/host/${first.agentsn}/reset`)).status).toBe(200);
    await waitUntil(() => current.closed(), {
      timeoutMs: 15_000,
      what: "the reset host's channel closed by the server",
    });
  });
});

describe('renewal through the status push', () => {
  it('renews before expiry; the BasicAgent reconnects with the renewed certificate after the first expired', async () => {
    const id = identity(boot.stateDir);
    const first = new X509Certificate(readFileSync(id.cert));
    // Renewed when a third of the lifetime is left: within ~15 s of the previous one.
    const renewed = await waitUntil(
      () => {
        const c = new X509Certificate(readFileSync(id.cert));
        return c.serialNumber !== first.serialNumber ? c : undefined;
      },
      { timeoutMs: 40_000, what: 'a renewed certificate' },
    );
    await boot.waitForLog(/host certificate renewed/);
    const renewals = boot.logLines().filter((l) => l.msg === 'host certificate renewed').length;
    // Not on every push (step 1 s): only when due.
    expect(renewals).toBeLessThan(10);
    expect(renewed.serialNumber).not.toBe(first.serialNumber);
    expect(Date.parse(renewed.validTo)).toBeGreaterThan(Date.parse(first.validTo));
    expect(renewed.subjectAltName).toBe(`URI:urn:aspire:agentsn:${agentsn}`);
    expect(statSync(id.key).mode & 0o777).toBe(0o600);

    // Past the first certificate's end, the hub restarts: the agent's new session must use a renewed one.
    await waitUntil(() => Date.now() > Date.parse(first.validTo) + 1000, {
      timeoutMs: 60_000,
      what: 'the first certificate to expire',
    });
    const sessions = agent.child.output.match(/channel: connected/g)!.length;
    await srv.restart();
    await waitUntil(() => agent.child.output.match(/channel: connected/g)!.length > sessions, {
      timeoutMs: 30_000,
      what: 'reconnect',
    });
    await waitUntil(async () => (await polaris([HOST], 'echo renewed')).body.response[0].resp === 'success', {
      timeoutMs: 15_000,
      what: 'sync.bash after renewal',
    });
  });
});
