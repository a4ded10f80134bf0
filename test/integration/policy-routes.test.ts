// Desired state on the real server (docs/lifecycle.md "Desired state"): the product tree and its
// refusals (second parent, cycle, kinds, names), hosts attached explicitly and by tag, policies at
// the root, a service, a component and a host merged lower-wins with removals, refusals of a
// missing package and a bad crontab line, the hash in every status reply, the signed
// GET /api/v1/agent/policy, and the applied/drift reports of the host's effective-policy route.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_POLICY_HASH, parsePublicKey, policyAnswer, policyHash, verifySigned } from '@aspire/protocol';
import { type AspireHandle, startAspire } from '@aspire/testing';

let srv: AspireHandle;
const creds = new Map<string, string>();
const HOSTS = ['pol-a', 'pol-b', 'pol-c', 'pol-d'];
let pkgSha = '';

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function push(sn: string, over: Record<string, unknown> = {}) {
  return post(
    '/agent/status',
    {
      hostname: `${sn}.example`,
      agentsn: sn,
      version: '1.0.0',
      uptime: 1,
      timestamp: 1,
      step: 60,
      agents: [],
      jobs: [],
      events: [],
      os: 'linux',
      arch: 'x86_64',
      ...over,
    },
    { 'x-aspire-credential': creds.get(sn)! },
  );
}

const api = async (method: string, path: string, body?: unknown) => srv.api(method, `/api/v1/server${path}`, body);
/** A host's push as its BootAgent sends it (pol-c reports its tags every time). */
const hashOf = async (sn: string) =>
  (await push(sn, sn === 'pol-c' ? { tags: 'role=web,dc=one' } : {})).body.policy.hash as string;

beforeAll(async () => {
  srv = await startAspire();
  for (const sn of HOSTS) {
    const reg = await post(
      '/agent/register',
      { hostname: `${sn}.example`, agentsn: sn },
      { 'x-aspire-enroll': srv.enrollSecret },
    );
    creds.set(sn, reg.body.credential);
    expect((await push(sn, { tags: sn === 'pol-c' ? 'role=web,dc=one' : '' })).status).toBe(200);
  }
  const bytes = Buffer.from('a package for the policy test\n');
  const res = await fetch(
    `${srv.url}/api/v1/server/package?${new URLSearchParams({ name: 'BasicAgent', version: '1.2.3', os: 'linux', arch: 'x86_64', file: 'BasicAgent-1.2.3.tar.gz' })}`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/octet-stream' },
      body: bytes,
    },
  );
  const up = (await res.json()) as any;
  expect(res.status).toBe(200);
  pkgSha = up.package.sha256;
});

afterAll(async () => {
  await srv?.stop();
});

describe('desired state on the real server', () => {
  const ids: Record<string, number> = {};

  it('tree: nodes by kind, and every refusal with its reason', async () => {
    const mk = async (kind: string, name: string, parent?: unknown, tags?: string) => {
      const r = await api('POST', '/tree/node', {
        kind,
        name,
        ...(parent !== undefined ? { parent } : {}),
        ...(tags ? { tags } : {}),
      });
      return r;
    };
    ids.shop = (await mk('product', 'shop')).body.node.id;
    ids.web = (await mk('service', 'web', ids.shop)).body.node.id;
    ids.front = (await mk('component', 'front', ids.web)).body.node.id;
    ids.edge = (await mk('component', 'edge', ids.web, 'role=web')).body.node.id;
    ids.other = (await mk('product', 'other')).body.node.id;
    ids.otherSvc = (await mk('service', 'svc', ids.other)).body.node.id;

    const second = await mk('service', 'x', [ids.shop, ids.other]);
    expect(second.status).toBe(400);
    expect(second.body).toMatchObject({ reason: 'tree_second_parent' });
    const noMove = await api('PATCH', `/tree/node/${ids.web}`, { parent: ids.other });
    expect(noMove.status).toBe(400);
    expect(noMove.body.reason).toBe('tree_second_parent');
    expect(noMove.body.cause).toContain(`parent ${ids.shop}`);
    const cycle = await api('PATCH', `/tree/node/${ids.shop}`, { parent: ids.front, move: true });
    expect(cycle.status).toBe(400);
    expect(cycle.body.reason).toBe('tree_cycle');
    expect((await mk('service', 'orphan')).body.reason).toBe('tree_parent_required');
    expect((await mk('component', 'c', ids.shop)).body.reason).toBe('tree_parent_kind');
    const taken = await mk('service', 'web', ids.shop);
    expect(taken.status).toBe(409);
    expect(taken.body.reason).toBe('tree_name_taken');
    expect((await mk('service', 's', ids.shop, 'a=b')).body.reason).toBe('tree_tags');
    // A move that says so is fine, and back.
    expect((await api('PATCH', `/tree/node/${ids.otherSvc}`, { parent: ids.shop, move: true })).body.node.parent).toBe(
      ids.shop,
    );
    expect((await api('DELETE', `/tree/node/${ids.shop}`)).body.reason).toBe('tree_not_empty');
    expect((await api('DELETE', `/tree/node/${ids.otherSvc}`)).status).toBe(200);

    const tree = (await api('GET', '/tree')).body;
    expect(tree.nodes.map((n: any) => n.name)).toEqual(['shop', 'web', 'front', 'edge', 'other']);
    expect(tree.nodes.find((n: any) => n.id === ids.edge)).toMatchObject({ tags: 'role=web', kind: 'component' });
  });

  it('hosts: explicit attachment, one component a host, unknown hosts; by tag', async () => {
    expect((await api('POST', `/tree/node/${ids.front}/hosts`, { agents: ['pol-a', 'pol-b'] })).body).toMatchObject({
      attached: 2,
    });
    const unknown = await api('POST', `/tree/node/${ids.front}/hosts`, { agents: ['pol-d', 'no-such-host'] });
    expect(unknown.body).toMatchObject({ reason: 'host_unknown' });
    expect(unknown.body.cause).toContain('no-such-host');
    const twice = await api('POST', `/tree/node/${ids.edge}/hosts`, { agents: ['pol-b'] });
    expect(twice.status).toBe(400);
    expect(twice.body.reason).toBe('host_second_component');
    expect((await api('POST', `/tree/node/${ids.web}/hosts`, { agents: ['pol-d'] })).body.reason).toBe(
      'host_not_component',
    );
    expect((await api('GET', `/tree/node/${ids.front}`)).body.hosts).toEqual(['pol-a', 'pol-b']);
    // pol-c reports role=web: the edge component takes it by tag.
    const c = (await api('GET', '/host/pol-c/policy')).body;
    expect(c.component).toMatchObject({ component: ids.edge, by: 'tag' });
    expect(c.path.map((n: any) => n.name)).toEqual(['shop', 'web', 'edge']);
  });

  it('policies: refusals of a missing package, a bad crontab line, a bad document; nothing stored', async () => {
    const missing = await api('PUT', `/policy/node/${ids.web}`, {
      subagents: [{ name: 'BasicAgent', version: '9.9.9' }],
    });
    expect(missing.status).toBe(400);
    expect(missing.body.reason).toBe('policy_package_missing');
    expect(missing.body.cause).toContain('BasicAgent 9.9.9');
    const bad = await api('PUT', `/policy/node/${ids.web}`, {
      periodic: [{ name: 'bad', user: 'root', schedule: '0 61 * * * *', command: 'true' }],
    });
    expect(bad.body.reason).toBe('policy_bad_crontab');
    expect(bad.body.cause).toContain('bad');
    const shifted = await api('PUT', `/policy/node/${ids.web}`, {
      periodic: [{ name: 'few', user: 'root', schedule: '* * *', command: 'true' }],
    });
    expect(shifted.body.reason).toBe('policy_bad_crontab');
    const injected = await api('PUT', `/policy/node/${ids.web}`, {
      periodic: [{ name: 'nl', user: 'root', schedule: '* * * * *', command: 'true\n* * * * * root evil' }],
    });
    expect(injected.body.reason).toBe('policy_bad_crontab');
    const shape = await api('PUT', `/policy/node/${ids.web}`, { subagents: [{ name: 'x' }], extra: 1 });
    expect(shape.body.reason).toBe('policy_invalid');
    expect(shape.body.cause).toContain('extra');
    expect(shape.body.cause).toContain('subagents[0]');
    const dup = await api('PUT', '/policy/root', {
      periodic: [
        { name: 'd', user: 'root', schedule: '@hourly', command: 'a' },
        { name: 'd', remove: true },
      ],
    });
    expect(dup.body.reason).toBe('policy_duplicate_name');
    expect((await api('PUT', '/policy/node/99999', { periodic: [] })).status).toBe(404);
    expect((await api('GET', `/policy/node/${ids.web}`)).body.policy).toBeNull();
    expect(await hashOf('pol-a')).toBe(EMPTY_POLICY_HASH);
  });

  it('merge: root < service < component < host, lower wins per name, remove; hash in every status reply', async () => {
    const task = (name: string, command: string, schedule = '0 */5 * * * *') => ({
      name,
      user: 'root',
      schedule,
      command,
    });
    expect(
      (await api('PUT', '/policy/root', { periodic: [task('inventory', '/usr/bin/true', '@daily')] })).status,
    ).toBe(200);
    const svc = await api('PUT', `/policy/node/${ids.web}`, {
      subagents: [{ name: 'BasicAgent', version: '1.2.3', limits: { cpu: '10%', memory: '64M' } }],
      periodic: [task('rotate', '/usr/sbin/logrotate /etc/logrotate.conf'), task('report', '/usr/local/bin/report')],
    });
    expect(svc.status).toBe(200);
    await api('PUT', `/policy/node/${ids.front}`, {
      periodic: [task('report', '/usr/local/bin/report --short', '0 0 * * * *'), { name: 'inventory', remove: true }],
    });
    await api('PUT', '/policy/host/pol-b', { periodic: [{ name: 'rotate', remove: true }] });

    const a = (await api('GET', '/host/pol-a/policy')).body;
    expect(a.component).toMatchObject({ component: ids.front, by: 'explicit' });
    expect(a.subagents).toEqual([
      { name: 'BasicAgent', version: '1.2.3', run: {}, limits: { cpu: '10%', memory: '64M' } },
    ]);
    expect(a.periodic.map((t: any) => [t.name, t.command])).toEqual([
      ['report', '/usr/local/bin/report --short'],
      ['rotate', '/usr/sbin/logrotate /etc/logrotate.conf'],
    ]);
    expect(a.origin).toEqual({ BasicAgent: `node:${ids.web}`, report: `node:${ids.front}`, rotate: `node:${ids.web}` });
    expect(a.hash).toBe(policyHash({ subagents: a.subagents, periodic: a.periodic }));

    const b = (await api('GET', '/host/pol-b/policy')).body;
    expect(b.periodic.map((t: any) => t.name)).toEqual(['report']);
    const c = (await api('GET', '/host/pol-c/policy')).body;
    expect(c.periodic.map((t: any) => [t.name, t.command])).toEqual([
      ['inventory', '/usr/bin/true'],
      ['report', '/usr/local/bin/report'],
      ['rotate', '/usr/sbin/logrotate /etc/logrotate.conf'],
    ]);
    const d = (await api('GET', '/host/pol-d/policy')).body;
    expect(d.component).toMatchObject({ component: null });
    expect(d.origin).toEqual({ inventory: 'root' });

    // Every status reply carries the host's hash; a change shows in the next reply.
    expect(await hashOf('pol-a')).toBe(a.hash);
    expect(await hashOf('pol-b')).toBe(b.hash);
    expect(await hashOf('pol-c')).toBe(c.hash);
    expect(await hashOf('pol-d')).toBe(d.hash);
    expect(new Set([a.hash, b.hash, c.hash, d.hash]).size).toBe(4);
    await api('DELETE', '/policy/host/pol-b');
    const b2 = await hashOf('pol-b');
    expect(b2).not.toBe(b.hash);
    expect(b2).toBe((await api('GET', '/host/pol-b/policy')).body.hash);
  });

  it('a bound tag moves a host into a tag component at once (the next status reply)', async () => {
    const before = await hashOf('pol-d');
    const tag = (await api('POST', '/tag', { name: 'role', value: 'web' })).body.tag.id as number;
    expect((await api('POST', '/tag/bind', { id: tag, agents: ['pol-d'] })).status).toBe(200);
    const after = await hashOf('pol-d');
    expect(after).not.toBe(before);
    const d = (await api('GET', '/host/pol-d/policy')).body;
    expect(d.component).toMatchObject({ component: ids.edge, by: 'tag' });
    expect(after).toBe(d.hash);
    expect((await api('POST', '/tag/unbind', { id: tag, agents: ['pol-d'] })).status).toBe(200);
    expect(await hashOf('pol-d')).toBe(before);
  });

  it('GET /api/v1/agent/policy: the credential of the host, the whole answer signed for it, package links filled', async () => {
    const none = await fetch(`${srv.url}/api/v1/agent/policy?agentsn=pol-a`);
    expect(none.status).toBe(401);
    const wrong = await fetch(`${srv.url}/api/v1/agent/policy?agentsn=pol-a`, {
      headers: { 'x-aspire-credential': creds.get('pol-b')! },
    });
    expect(wrong.status).toBe(401);
    const res = await fetch(`${srv.url}/api/v1/agent/policy?agentsn=pol-a`, {
      headers: { 'x-aspire-credential': creds.get('pol-a')! },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(policyAnswer.validate(body).ok).toBe(true);
    const key = (await (await fetch(`${srv.url}/agent/signing-key`)).json()) as any;
    const keys = [parsePublicKey(key.signingKey)!];
    expect(verifySigned('policy', body, { keys, agentsn: 'pol-a', nowMs: Date.now() })).toMatchObject({ ok: true });
    expect(verifySigned('policy', body, { keys, agentsn: 'pol-b', nowMs: Date.now() }).ok).toBe(false);
    expect(
      verifySigned('policy', { ...body, hash: EMPTY_POLICY_HASH }, { keys, agentsn: 'pol-a', nowMs: Date.now() }).ok,
    ).toBe(false);
    expect(body.hash).toBe(await hashOf('pol-a'));
    const sub = body.subagents[0];
    expect(sub).toMatchObject({ name: 'BasicAgent', version: '1.2.3', limits: { cpu: '10%', memory: '64M' } });
    expect(sub.run.checksum).toBe(`SHA256:${pkgSha}`);
    const download = await fetch(sub.run.url);
    expect(download.status).toBe(200);
    expect((await download.arrayBuffer()).byteLength).toBeGreaterThan(0);
    expect(body.origin.report).toBe(`node:${ids.front}`);
    // An aarch64 host: the package has no build for it, the entry says so.
    await push('pol-a', { arch: 'aarch64' });
    const arm = (await (
      await fetch(`${srv.url}/api/v1/agent/policy?agentsn=pol-a`, {
        headers: { 'x-aspire-credential': creds.get('pol-a')! },
      })
    ).json()) as any;
    expect(arm.subagents[0].unavailable).toContain('aarch64');
    expect(arm.subagents[0].run.url).toBeUndefined();
    expect(arm.hash).toBe(body.hash);
    await push('pol-a', { arch: 'x86_64' });
  });

  it('reports: policy_applied and policy_drift events show as the last applied hash, in_sync and drift', async () => {
    const before = (await api('GET', '/host/pol-a/policy')).body;
    expect(before).toMatchObject({ applied: null, in_sync: false, drift: [] });
    const now = Math.floor(Date.now() / 1000);
    const repaired = [
      {
        kind: 'periodic',
        name: 'report',
        was: 'edited by hand',
        now: '0 0 * * * * root /usr/local/bin/report --short',
      },
    ];
    expect(
      (
        await push('pol-a', {
          events: [
            { localid: 1, occurred: now, kind: 'policy_applied', message: 'applied', data: { hash: before.hash } },
            {
              localid: 2,
              occurred: now + 1,
              kind: 'policy_drift',
              message: 'repaired',
              data: { hash: before.hash, repaired },
            },
          ],
        })
      ).status,
    ).toBe(200);
    const after = (await api('GET', '/host/pol-a/policy')).body;
    expect(after.applied).toMatchObject({ hash: before.hash, occurred: now });
    expect(after.in_sync).toBe(true);
    expect(after.drift).toHaveLength(1);
    expect(after.drift[0]).toMatchObject({ kind: 'policy_drift', data: { hash: before.hash, repaired } });
    expect(after.failed).toBeNull();
    // A pull that failed after the apply shows until a policy is applied again.
    await push('pol-a', {
      events: [
        {
          localid: 3,
          occurred: now + 2,
          kind: 'policy_failed',
          message: 'signature',
          data: { hash: before.hash, error: 'x' },
        },
      ],
    });
    expect((await api('GET', '/host/pol-a/policy')).body.failed).toMatchObject({
      kind: 'policy_failed',
      message: 'signature',
    });
    await push('pol-a', {
      events: [
        { localid: 4, occurred: now + 3, kind: 'policy_applied', message: 'applied', data: { hash: before.hash } },
      ],
    });
    expect((await api('GET', '/host/pol-a/policy')).body.failed).toBeNull();
    // A policy change: the applied hash is no longer the current one.
    await api('PUT', '/policy/host/pol-a', {
      periodic: [{ name: 'extra', user: 'root', schedule: '@hourly', command: 'true' }],
    });
    expect((await api('GET', '/host/pol-a/policy')).body.in_sync).toBe(false);
    expect((await api('GET', '/host/no-such/policy')).status).toBe(404);
  });

  it('every change is audited; a viewer reads but cannot change', async () => {
    const audit = (await api('GET', '/audit?route=/api/v1/server/policy/node/:id&limit=100')).body;
    expect(audit.audit.some((r: any) => r.method === 'PUT' && r.code === 200 && /policy node:/.test(r.outcome))).toBe(
      true,
    );
    expect(audit.audit.some((r: any) => r.method === 'PUT' && r.code === 400)).toBe(true);
    const viewer = (await api('POST', '/token', { name: 'policy-viewer', role: 'viewer' })).body.token as string;
    const as = { token: viewer };
    expect((await srv.api('GET', '/api/v1/server/tree', undefined, as)).status).toBe(200);
    expect((await srv.api('GET', '/api/v1/server/host/pol-a/policy', undefined, as)).status).toBe(200);
    expect((await srv.api('PUT', '/api/v1/server/policy/root', { periodic: [] }, as)).status).toBe(403);
    expect((await srv.api('POST', '/api/v1/server/tree/node', { kind: 'product', name: 'v' }, as)).status).toBe(403);
  });
});
