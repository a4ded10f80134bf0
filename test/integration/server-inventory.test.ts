// Hosts, tags, regions, events, dashboard on the real server; rate limits on the agent
// routes; every operator route in the served OpenAPI document refuses a missing token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiStatus } from '@aspire/protocol';
import { startAspire, waitUntil, type AspireHandle } from '@aspire/testing';

let srv: AspireHandle;
const creds = new Map<string, string>();

beforeAll(async () => {
  srv = await startAspire();
  const hosts = [
    { sn: 'inv-a', arch: 'x86_64', version: '1.0.0', tags: 'svc=ecs' },
    { sn: 'inv-b', arch: 'aarch64', version: '1.0.0', tags: 'svc=rds' },
    { sn: 'inv-c', arch: 'x86_64', version: '2.0.0', tags: '' },
  ];
  for (const h of hosts) {
    const reg = (
      await post(
        '/agent/register',
        { hostname: `${h.sn}.example`, agentsn: h.sn },
        { 'x-aspire-enroll': srv.enrollSecret },
      )
    ).body;
    creds.set(h.sn, reg.credential);
    await push(h.sn, {
      arch: h.arch,
      version: h.version,
      tags: h.tags,
      events: [
        { localid: 1, occurred: 1000, kind: 'started', agent: 'BasicAgent', message: 'up' },
        { localid: 2, occurred: 2000, kind: 'strike', agent: 'BasicAgent', message: 'exit 1' },
      ],
    });
  }
});
afterAll(async () => {
  await srv?.stop();
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
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
      agents: [{ name: 'BasicAgent', version: '1', status: 'running', uptime: 1 }],
      jobs: [],
      events: [],
      os: 'linux',
      arch: 'x86_64',
      ...over,
    },
    { 'x-aspire-credential': creds.get(sn)! },
  );
}
const get = async (p: string) => (await srv.api('GET', p)).body;

describe('hosts, tags, regions, events', () => {
  it('hosts: filter by status, os, arch, version, tag; paging and sorting', async () => {
    expect((await get('/api/v1/server/host')).count).toBe(3);
    expect((await get('/api/v1/server/host?arch=aarch64')).hosts.map((h: any) => h.agentsn)).toEqual(['inv-b']);
    expect((await get('/api/v1/server/host?version=2.0.0')).hosts.map((h: any) => h.agentsn)).toEqual(['inv-c']);
    expect((await get('/api/v1/server/host?status=online&os=linux')).count).toBe(3);
    expect((await get('/api/v1/server/host?status=offline')).count).toBe(0);
    expect((await get('/api/v1/server/host?tag=svc=ecs')).hosts.map((h: any) => h.agentsn)).toEqual(['inv-a']);
    const page = await get('/api/v1/server/host?offset=1&limit=1&order=desc&sortby=agentsn');
    expect(page).toMatchObject({ count: 3, offset: 1, limit: 1 });
    expect(page.hosts.map((h: any) => h.agentsn)).toEqual(['inv-b']);
    expect((await srv.api('GET', '/api/v1/server/host?status=sleeping')).status).toBe(400);
  });

  it('tags: CRUD with bound-host counts, bind/unbind, host filter by bound tag', async () => {
    const created = await srv.api('POST', '/api/v1/server/tag', { name: 'cmpt', value: 'DB' });
    expect(created.body).toMatchObject({ status: 0, tag: { name: 'cmpt', value: 'DB', hosts: 0 } });
    const id = created.body.tag.id;
    expect((await srv.api('POST', '/api/v1/server/tag', { name: 'cmpt', value: 'DB' })).status).toBe(409);
    expect((await srv.api('POST', '/api/v1/server/tag', { name: 'bad=name', value: 'x' })).status).toBe(400);
    const bind = await srv.api('POST', '/api/v1/server/tag/bind', { id, agents: ['inv-a', 'inv-c', 'nope'] });
    expect(bind.body).toMatchObject({ changed: 2, unknown: ['nope'] });
    expect((await get('/api/v1/server/tag?name=cmpt')).tags[0]).toMatchObject({ id, hosts: 2 });
    expect((await get('/api/v1/server/host?tag=cmpt=DB')).hosts.map((h: any) => h.agentsn)).toEqual(['inv-a', 'inv-c']);
    expect((await get('/api/v1/server/agent?agentsn=inv-a')).host.tags).toEqual(['cmpt=DB']);
    // Registration answers the bound tags (docs/design.md §3 register reply).
    const rereg = await post(
      '/agent/register',
      { hostname: 'inv-a.example', agentsn: 'inv-a' },
      { 'x-aspire-enroll': srv.enrollSecret, 'x-aspire-credential': creds.get('inv-a')! },
    );
    expect(rereg.body).toMatchObject({ agentsn: 'inv-a', tags: 'cmpt=DB' });
    creds.set('inv-a', rereg.body.credential);
    await srv.api('POST', '/api/v1/server/tag/unbind', { id, agents: ['inv-c'] });
    expect((await get('/api/v1/server/tag?name=cmpt')).tags[0].hosts).toBe(1);
    const renamed = await srv.api('PUT', '/api/v1/server/tag', { id, name: 'cmpt', value: 'Cache' });
    expect(renamed.body.tag).toMatchObject({ value: 'Cache', hosts: 1 });
    expect((await srv.api('DELETE', `/api/v1/server/tag?id=${id}`)).body.status).toBe(0);
    expect((await srv.api('DELETE', `/api/v1/server/tag?id=${id}`)).status).toBe(404);
    expect((await get('/api/v1/server/agent?agentsn=inv-a')).host.tags).toEqual([]);
  });

  it('regions: CRUD with host counts; hosts move between regions; deleting one falls back to global', async () => {
    const r = await srv.api('POST', '/api/v1/server/region', { name: 'cn-north' });
    expect(r.body.region).toMatchObject({ name: 'cn-north', hosts: 0 });
    const id = r.body.region.id;
    expect(
      (await srv.api('PUT', '/api/v1/server/host/region', { agents: ['inv-a', 'inv-b'], region: id })).body.updated,
    ).toBe(2);
    const regions = await get('/api/v1/server/region?sortby=id');
    expect(regions.regions).toEqual([
      expect.objectContaining({ id: 0, name: 'global', hosts: 1 }),
      expect.objectContaining({ id, name: 'cn-north', hosts: 2 }),
    ]);
    expect((await get(`/api/v1/server/host?region=${id}`)).count).toBe(2);
    expect((await srv.api('PUT', '/api/v1/server/region', { id, name: 'cn-north-1' })).body.region.name).toBe(
      'cn-north-1',
    );
    expect((await srv.api('PUT', '/api/v1/server/host/region', { agents: ['inv-a'], region: 999 })).status).toBe(404);
    expect((await srv.api('DELETE', '/api/v1/server/region?id=0')).status).toBe(400);
    expect((await srv.api('DELETE', `/api/v1/server/region?id=${id}`)).body.status).toBe(0);
    expect((await get('/api/v1/server/region')).regions[0]).toMatchObject({ id: 0, hosts: 3 });
  });

  it('events by host, kind and time', async () => {
    expect((await get('/api/v1/server/event')).count).toBe(6);
    expect((await get('/api/v1/server/event?agentsn=inv-b')).count).toBe(2);
    const late = await get('/api/v1/server/event?agentsn=inv-b&since=1500&until=2500');
    expect(late.events.map((e: any) => [e.kind, e.occurred])).toEqual([['strike', 2000]]);
    expect(
      (await get('/api/v1/server/event?kind=started&order=desc&sortby=agentsn')).events.map((e: any) => e.agentsn),
    ).toEqual(['inv-c', 'inv-b', 'inv-a']);
  });

  it('dashboard counts are computed periodically', async () => {
    const d = await waitUntil(
      async () => {
        const x = (await get('/api/v1/server/dashboard')).dashboard;
        return x?.hosts.total === 3 ? x : undefined;
      },
      { what: 'dashboard' },
    );
    expect(d.hosts).toMatchObject({ total: 3, online: 3, offline: 0 });
    expect(d.agents).toEqual([{ name: 'BasicAgent', deployed: 3, online: 3 }]);
    // Issue 13 item 8: an ISO 8601 UTC string.
    expect(d.computedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('deleting a host marks it deleted; it leaves lists and counts', async () => {
    expect((await srv.api('DELETE', '/api/v1/server/host?agentsn=inv-c')).body).toMatchObject({
      status: 0,
      deleted: 1,
    });
    expect((await get('/api/v1/server/host')).count).toBe(2);
    expect((await get('/api/v1/server/host?status=deleted')).hosts.map((h: any) => h.agentsn)).toEqual(['inv-c']);
    expect((await srv.api('DELETE', '/api/v1/server/host?agentsn=never')).status).toBe(404);
  });
});

describe('authentication and the OpenAPI document', () => {
  it('every operator route listed in /api/v1/server/openapi.json answers 401 without a token and changes nothing', async () => {
    const doc = (await srv.api('GET', '/api/v1/server/openapi.json', undefined, { token: null })).body;
    expect(doc.openapi).toMatch(/^3\./);
    const before = JSON.stringify([
      await get('/api/v1/server/host?limit=1000'),
      await get('/api/v1/server/tag'),
      await get('/api/v1/server/region'),
      await get('/api/v1/server/task'),
      await get('/api/v1/server/package'),
    ]);
    let n = 0;
    for (const [path, ops] of Object.entries<Record<string, unknown>>(doc.paths)) {
      if (!path.startsWith('/api/v1/server/')) continue;
      for (const method of Object.keys(ops)) {
        const url = path.replace(/\{\w+\}/g, '1');
        const body =
          method === 'get' || method === 'delete'
            ? undefined
            : {
                id: 1,
                name: 'x',
                value: 'y',
                command: 'config',
                agents: ['inv-a'],
                parameters: { step: 1 },
                region: 0,
              };
        for (const token of [null, 'asp_not-a-real-token-0000']) {
          const res = await srv.api(method.toUpperCase(), `${url}?id=1&agentsn=inv-a&name=x&version=1`, body, {
            token,
          });
          expect(res.status, `${method} ${path}`).toBe(401);
          expect(res.body).toMatchObject({ status: ApiStatus.UNAUTHORIZED, message: 'unauthorized' });
        }
        n++;
      }
    }
    expect(n).toBeGreaterThan(15);
    const after = JSON.stringify([
      await get('/api/v1/server/host?limit=1000'),
      await get('/api/v1/server/tag'),
      await get('/api/v1/server/region'),
      await get('/api/v1/server/task'),
      await get('/api/v1/server/package'),
    ]);
    expect(after).toEqual(before);
  });
});

describe('rate limits', () => {
  it('registration and status beyond the bucket answer 429 with Retry-After and the envelope', async () => {
    const small = await startAspire({
      config: { rateLimit: { registerPerSec: 0.5, registerBurst: 2, statusPerSec: 1, statusBurst: 3 } },
    });
    try {
      const reg = (i: number) =>
        fetch(`${small.url}/agent/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-aspire-enroll': small.enrollSecret },
          body: JSON.stringify({ hostname: `h${i}`, agentsn: `rl-${i}` }),
        });
      const answers = await Promise.all([0, 1, 2, 3].map(reg));
      const codes = answers.map((a) => a.status).sort();
      expect(codes).toEqual([200, 200, 429, 429]);
      const limited = answers.find((a) => a.status === 429)!;
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await limited.json()).toMatchObject({ status: ApiStatus.RATE_LIMITED, message: 'too many requests' });
      const ok = (await answers.find((a) => a.status === 200)!.json()) as any;
      const st = () =>
        fetch(`${small.url}/agent/status`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-aspire-credential': ok.credential },
          body: JSON.stringify({
            hostname: 'h',
            agentsn: ok.agentsn,
            version: '1',
            uptime: 1,
            timestamp: 1,
            step: 1,
            agents: [],
            jobs: [],
            events: [],
            os: 'linux',
            arch: 'x86_64',
          }),
        }).then((r) => r.status);
      const statuses = await Promise.all([1, 2, 3, 4, 5].map(st));
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
      // Only two registrations got through.
      expect(
        (await small.api('GET', '/api/v1/server/host?status=registered')).body.count +
          (await small.api('GET', '/api/v1/server/host?status=online')).body.count,
      ).toBe(2);
    } finally {
      await small.stop();
    }
  });
});
