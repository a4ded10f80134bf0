// buildServer() with app.inject(): the OpenAPI document lists every route (kept in sync), and
// every operator route refuses a request without a valid token with 401 and changes nothing.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyPluginAsync } from 'fastify';
import { silentLogger } from '@aspire/agent-core';
import { ApiStatus } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { buildServer, OPENAPI_PATH, type AspireServer } from '../src/app.ts';
import { checkConfig } from '../src/config.ts';
import { sha256Hex } from '../src/http/secrets.ts';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite-store.ts';
import {
  HOST_TIME_FIELDS,
  PACKAGE_TIME_FIELDS,
  SUBTASK_TIME_FIELDS,
  TASK_TIME_FIELDS,
  withIsoTimes,
} from '../src/http/iso-time.ts';

let dir: string;
let store: SqliteStore;
let server: AspireServer;
const TOKEN = 'asp_unit-test-token-000000000000';

const extraPlugin: FastifyPluginAsync = async (app) => {
  app.get('/extension/ping', { schema: { summary: 'test extension' } }, async () => ({
    status: 0,
    message: 'success',
    pong: true,
  }));
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aspire-unit-'));
  store = openSqliteStore(join(dir, 'aspire.db'));
  await store.createToken('unit', sha256Hex(TOKEN), 0);
  const { config } = checkConfig({ dataDir: dir, enrollSecret: 'enroll-secret-1' }, 'test');
  server = await buildServer({
    store,
    clock: new ManualClock(),
    logger: silentLogger(),
    config,
    operatorPlugins: [extraPlugin],
  });
  await server.app.ready();
});
afterAll(async () => {
  await server?.stop();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('operator routes and OpenAPI', () => {
  it('every registered route is in the OpenAPI document', async () => {
    const res = await server.app.inject({ method: 'GET', url: OPENAPI_PATH });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { paths: Record<string, Record<string, unknown>> };
    const listed = new Set(
      Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)),
    );
    const missing: string[] = [];
    for (const r of allRoutes()) {
      if (r.method === 'HEAD' || r.url === OPENAPI_PATH) continue;
      const key = `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`;
      if (!listed.has(key)) missing.push(key);
    }
    expect(missing).toEqual([]);
    expect(listed.has('GET /api/v1/server/extension/ping')).toBe(true);
    // Operator routes declare the bearer scheme; agent routes do not.
    const ops = doc.paths as Record<string, Record<string, { security?: unknown }>>;
    expect(ops['/api/v1/server/task']!.post!.security).toEqual([{ bearer: [] }]);
    expect(ops['/api/v1/server/extension/ping']!.get!.security).toEqual([{ bearer: [] }]);
    expect(ops['/agent/status']!.post!.security).toBeUndefined();
  });

  it('every operator route answers 401 with the envelope without a valid token, and nothing changes', async () => {
    const before = await snapshot();
    const ops = allRoutes().filter(
      (r) => r.url.startsWith('/api/v1/server/') && r.url !== OPENAPI_PATH && r.method !== 'HEAD',
    );
    expect(ops.length).toBeGreaterThan(15);
    for (const r of ops) {
      for (const auth of [undefined, 'Bearer wrong-token-123456', 'Basic abc']) {
        const res = await server.app.inject({
          method: r.method as 'GET',
          url: r.url.replace(/:(\w+)/g, '1') + '?id=1&agentsn=x&name=x',
          headers: auth
            ? { authorization: auth, 'content-type': 'application/json' }
            : { 'content-type': 'application/json' },
          ...(r.method === 'GET' || r.method === 'DELETE'
            ? {}
            : {
                payload: JSON.stringify({ id: 1, name: 'x', value: 'y', command: 'config', agents: ['x'], region: 0 }),
              }),
        });
        expect(res.statusCode, `${r.method} ${r.url} auth=${auth}`).toBe(401);
        expect(res.json()).toMatchObject({ status: ApiStatus.UNAUTHORIZED, message: 'unauthorized' });
      }
    }
    expect(await snapshot()).toEqual(before);
  });

  it('docs/server.md has a row for every server route (the ones tagged by this package)', async () => {
    const doc = (await server.app.inject({ method: 'GET', url: OPENAPI_PATH })).json() as {
      paths: Record<string, Record<string, { tags?: string[] }>>;
    };
    // The formatter pads table cells to align columns: compare with runs of spaces collapsed.
    const md = readFileSync(join(import.meta.dirname, '../../../docs/server.md'), 'utf8').replace(/ {2,}/g, ' ');
    const ours = new Set([
      'agent',
      'task',
      'host',
      'tag',
      'region',
      'event',
      'dashboard',
      'package',
      'audit',
      'token',
      'metrics',
      'tree',
      'policy',
    ]);
    const missing: string[] = [];
    let n = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!op.tags?.some((t) => ours.has(t))) continue;
        n++;
        const row = `| ${method.toUpperCase()} | \`${path.replace(/\{(\w+)\}/g, ':$1')}\` |`;
        if (!md.includes(row)) missing.push(row);
      }
    }
    expect(n).toBeGreaterThan(20);
    expect(missing).toEqual([]);
  });

  it('the main operator routes describe their answer fields, and the serializer passes store rows through unchanged', async () => {
    const doc = (await server.app.inject({ method: 'GET', url: OPENAPI_PATH })).json() as {
      paths: Record<string, Record<string, any>>;
    };
    const ok200 = (path: string, method: string) =>
      doc.paths[path]![method]!.responses['200'].content['application/json'].schema;
    const host = ok200('/api/v1/server/host', 'get').properties.hosts.items;
    for (const k of [
      'agentsn',
      'hostname',
      'status',
      'agents',
      'tags',
      'last_seen',
      'events_dropped',
      'events_dropped_at',
    ])
      expect(host.properties, k).toHaveProperty(k);
    expect(host.properties.last_seen.nullable).toBe(true);
    expect(ok200('/api/v1/server/agent', 'get').properties.host.properties).toHaveProperty('events_dropped');
    expect(ok200('/api/v1/server/task', 'post').properties.results.items.properties).toHaveProperty('AgentSN');
    const task = ok200('/api/v1/server/task', 'get').properties;
    expect(task.task.properties).toHaveProperty('status');
    expect(task.subtasks.items.properties).toHaveProperty('state');
    expect(task.tasks.items.properties).toHaveProperty('complete');
    expect(ok200('/api/v1/server/package', 'get').properties.packages.items.properties).toHaveProperty('sha256');
    // Errors keep the envelope as their schema.
    expect(
      doc.paths['/api/v1/server/host']!.get!.responses['4XX'].content['application/json'].schema.properties,
    ).toHaveProperty('cause');

    // Real rows through the real routes: the answer is exactly what the store holds.
    const auth = { authorization: `Bearer ${TOKEN}` };
    const now = 1_700_000_000_000;
    const reg = await store.register({
      agentsn: 'sn-schema',
      hostname: 'h-schema',
      ip: '127.0.0.1',
      newHash: 'h',
      freshAgentsn: 'x',
      now,
    });
    await store.ingestStatus({
      agentsn: reg.agentsn,
      hostname: 'h-schema',
      ip: '127.0.0.1',
      version: '1.0',
      os: 'linux',
      arch: 'x86_64',
      uptime: 12.5,
      step: 1.5,
      agents: [{ name: 'BasicAgent', version: '2', status: 'running', uptime: 3, extra: { nested: true } } as never],
      jobs: [],
      events: [],
      eventsDropped: 3,
      tags: 'a=b',
      now,
    });
    const hostRow = await store.getHost('sn-schema');
    const hostOut = withIsoTimes(hostRow!, HOST_TIME_FIELDS);
    expect(
      (await server.app.inject({ method: 'GET', url: '/api/v1/server/agent?agentsn=sn-schema', headers: auth })).json()
        .host,
    ).toEqual(hostOut);
    const listed = (
      await server.app.inject({ method: 'GET', url: '/api/v1/server/host?hostname=h-schema', headers: auth })
    ).json();
    expect(listed).toEqual({ status: 0, message: 'success', count: 1, offset: 0, limit: 20, hosts: [hostOut] });
    const created = await server.app.inject({
      method: 'POST',
      url: '/api/v1/server/task',
      headers: auth,
      // Issue 13: an unknown AgentSN is refused unless allow_unknown records it FAILED.
      payload: { command: 'config', agents: ['sn-schema', 'sn-nobody'], parameters: { step: 30 }, allow_unknown: true },
    });
    expect(created.json()).toMatchObject({
      status: 0,
      results: [{ AgentSN: 'sn-schema' }, { AgentSN: 'sn-nobody', errcode: expect.any(Number) }],
    });
    const id = created.json().id as number;
    const one = (await server.app.inject({ method: 'GET', url: `/api/v1/server/task?id=${id}`, headers: auth })).json();
    const stored = (await store.getTask(id))!;
    // Issue 13 item 8: the same rows with every time field as an ISO 8601 UTC string.
    const taskOut = withIsoTimes(stored.task, TASK_TIME_FIELDS);
    expect(one).toEqual({
      status: 0,
      message: 'success',
      task: taskOut,
      states: stored.states,
      subtasks: stored.subtasks.map((s) => withIsoTimes(s, SUBTASK_TIME_FIELDS)),
    });
    expect(one.task.gmt_create).toBe(new Date(stored.task.gmt_create).toISOString());
    const page = (
      await server.app.inject({ method: 'GET', url: '/api/v1/server/task?limit=1000', headers: auth })
    ).json();
    expect(page.tasks).toContainEqual(taskOut);
    await store.insertPackage(
      {
        name: 'FooAgent',
        version: '1.0',
        os: 'linux',
        arch: 'x86_64',
        file: 'f.tgz',
        path: 'packages/linux/x86_64/f.tgz',
        size: 3,
        sha256: 'ab',
      },
      now,
    );
    const pkgs = (
      await server.app.inject({ method: 'GET', url: '/api/v1/server/package?name=FooAgent', headers: auth })
    ).json();
    expect(pkgs.packages).toEqual(
      (await store.listPackages({ name: 'FooAgent' }, { offset: 0, limit: 20, order: 'asc', sortby: 'id' })).items.map(
        (p) => withIsoTimes(p, PACKAGE_TIME_FIELDS),
      ),
    );
  });

  it('a valid token reaches the route, including an extension plugin', async () => {
    const res = await server.app.inject({
      method: 'GET',
      url: '/api/v1/server/extension/ping',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.json()).toMatchObject({ pong: true });
  });
});

function allRoutes(): readonly { method: string; url: string }[] {
  return server.routes;
}

async function snapshot() {
  const p = { offset: 0, limit: 1000, order: 'asc' as const, sortby: 'id' };
  return {
    tasks: (await store.listTasks({}, p)).count,
    hosts: (await store.listHosts({}, p)).count,
    tags: (await store.listTags({}, p)).count,
    regions: (await store.listRegions(p)).count,
    packages: (await store.listPackages({}, p)).count,
  };
}
