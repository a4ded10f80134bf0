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

const identity = (stateDir: string) => ({ cert: join(stateDir, 'identity', 'host.crt'), key: join(stateDir, 'identity', 'host.key'), ca: join(stateDir, 'identity', 'ca.crt') });
const polaris = (hosts: string[], cmd: string) => srv.api('POST', '/api/v1/server/polaris', { hosts, method: 'sync.bash', cmd });

/** A raw TLS client that sends one init and reports what came back and how it ended. */
function tryInit(init: Record<string, unknown>, client?: { cert: string; key: string }): Promise<{ frames: Record<string, unknown>[]; ended: string }> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: srv.hubAddress!.port, servername: 'localhost', ca: ca.caCert, ...client }, () => {
      s.write(`${JSON.stringify({ method: 'init', ...init })}\n`);
    });
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

const pemOf = (h: { certFile: string; keyFile: string }) => ({ cert: readFileSync(h.certFile, 'utf8'), key: readFileSync(h.keyFile, 'utf8') });

beforeAll(async () => {
  ca = makeTestCa();
  srv = await startAspire({ ownHostCa: true, hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile }, config: { hostCertLifetimeSec: LIFETIME_SEC } });
  boot = await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step: 1, config: { hostname: HOST } });
  await waitUntil(() => boot.readMeta()?.trusted === true && existsSync(identity(boot.stateDir).cert), { timeoutMs: 30_000, what: 'boot registered with a certificate' });
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
    expect(caCert.fingerprint256).toBe(new X509Certificate(readFileSync(join(srv.dataDir, 'host-ca', 'ca.crt'))).fingerprint256);
    const lifetime = Date.parse(cert.validTo) - Date.parse(cert.validFrom);
    // 20 s plus the tenth the server backdates for clock skew (5 min for long lifetimes).
    expect(lifetime).toBe(LIFETIME_SEC * 1100);
    expect(boot.child.output + readFileSync(boot.logFile, 'utf8')).not.toContain('PRIVATE KEY');
  });

  it('the BasicAgent connects with it and a Polaris sync.bash reaches it, by hostname and by agentsn', async () => {
    expect((await polaris([HOST], 'echo hi')).body.response[0]).toMatchObject({ resp: 'success', retcode: 0, data: 'hi\n' });
    expect((await polaris([agentsn], 'echo by-sn')).body.response[0]).toMatchObject({ resp: 'success', data: 'by-sn\n' });
    const agents = (await srv.api('GET', '/api/v1/server/polaris/agents')).body.agents;
    expect(agents).toEqual([expect.objectContaining({ hostname: HOST, agentsn })]);
  });
});

describe('the hub refuses what is not the host', () => {
  it('an impostor with the CA but no host certificate gets no channel', async () => {
    const r = await tryInit({ hostname: HOST, agentsn });
    expect(r.frames.some((f) => f.method === 'accept')).toBe(false);
    expect(r.ended).toMatch(/error: .*certificate|closed/i);
    await waitUntil(() => /hub: TLS handshake failed/.test(srv.child.output), { timeoutMs: 10_000, what: 'the refusal logged' });
    expect((await polaris([HOST], 'echo still-mine')).body.response[0]).toMatchObject({ resp: 'success', data: 'still-mine\n' });
  });

  it("host A's certificate claiming host B in init is refused, logged, and recorded as an event on A", async () => {
    const a = await enrollHost([srv], { hostname: 'host-a-id', dir: mkdtempSync(join(tmpdir(), 'trust-a-')) });
    const bySn = await tryInit({ hostname: HOST, agentsn }, pemOf(a));
    expect(bySn.frames).toEqual([expect.objectContaining({ resp: 'failed', retcode: ErrorCode.IDENTITY_MISMATCH })]);
    expect(String(bySn.frames[0]!.message)).toContain(`init claims agentsn ${agentsn}`);
    // Only the hostname: the hub checks it against the certificate's host too.
    const byName = await tryInit({ hostname: HOST }, pemOf(a));
    expect(byName.frames).toEqual([expect.objectContaining({ resp: 'failed', retcode: ErrorCode.IDENTITY_MISMATCH })]);
    await waitUntil(() => (srv.child.output.match(/init refused \(host identity\)/g) ?? []).length >= 2, { timeoutMs: 10_000, what: 'refusals logged' });
    expect(srv.child.output).toContain(`init claims agentsn ${agentsn} with the certificate of ${a.agentsn}`);
    const events = (await srv.api('GET', `/api/v1/server/event?agentsn=${a.agentsn}`)).body.events as { kind: string; category: number; message: string }[];
    expect(events.filter((e) => e.kind === 'refused' && e.category === 0)).toHaveLength(2);
    // The real host still has its channel; A with its own identity is accepted.
    expect((await polaris([HOST], 'echo mine')).body.response[0]).toMatchObject({ resp: 'success', data: 'mine\n' });
    const own = await tryInit({ hostname: 'host-a-id', agentsn: a.agentsn }, pemOf(a));
    expect(own.frames[0]).toEqual({ method: 'accept' });
  });

  it("a deleted host's certificate is refused, and it can register again only after an operator reset", async () => {
    const d = await enrollHost([srv], { hostname: 'doomed', dir: mkdtempSync(join(tmpdir(), 'trust-d-')) });
    expect((await tryInit({ hostname: 'doomed', agentsn: d.agentsn }, pemOf(d))).frames[0]).toEqual({ method: 'accept' });
    expect((await srv.api('DELETE', `/api/v1/server/host?agentsn=${d.agentsn}`)).status).toBe(200);
    const r = await tryInit({ hostname: 'doomed', agentsn: d.agentsn }, pemOf(d));
    expect(r.frames).toEqual([expect.objectContaining({ resp: 'failed', retcode: ErrorCode.IDENTITY_HOST_UNKNOWN })]);
    const register = (headers: Record<string, string>) =>
      srv.api('POST', '/agent/register', { hostname: 'doomed', agentsn: d.agentsn }, { token: null, headers: { 'x-aspire-enroll': srv.enrollSecret, ...headers } });
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
      srv.api('POST', '/agent/register', { hostname, agentsn: v.agentsn }, { token: null, headers: { 'x-aspire-enroll': srv.enrollSecret, ...headers } });
    const push = (cred: string) =>
      srv.api(
        'POST',
        '/agent/status',
        { hostname: 'victim', agentsn: v.agentsn, version: 't', uptime: 1, timestamp: Math.floor(Date.now() / 1000), step: 60, agents: [], jobs: [], events: [], os: 'linux', arch: 'x86_64' },
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

    // Another hostname asking for the agentsn: the seed's conflict rule, a fresh agentsn.
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
    await waitUntil(() => Date.now() > Date.parse(first.validTo) + 1000, { timeoutMs: 60_000, what: 'the first certificate to expire' });
    const sessions = agent.child.output.match(/channel: connected/g)!.length;
    await srv.restart();
    await waitUntil(() => agent.child.output.match(/channel: connected/g)!.length > sessions, { timeoutMs: 30_000, what: 'reconnect' });
    await waitUntil(async () => (await polaris([HOST], 'echo renewed')).body.response[0].resp === 'success', { timeoutMs: 15_000, what: 'sync.bash after renewal' });
  });
});
