// The OpenAPI document the server serves covers issue 13: every task field (priority, start_at,
// max_errors, after, batch percentages, allow_unknown), the task routes with their answers
// (revoke, kick, touch, retry) and design.md §5's JSON package body; the JSON body is validated at
// the edge while octet-stream uploads are not held to it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@aspire/agent-core';
import { ManualClock } from '@aspire/testing';
import { buildServer, OPENAPI_PATH, type AspireServer } from '../src/app.ts';
import { checkConfig } from '../src/config.ts';
import { sha256Hex } from '../src/http/secrets.ts';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite-store.ts';

let dir: string;
let store: SqliteStore;
let server: AspireServer;
let doc: { paths: Record<string, Record<string, any>> };
const TOKEN = 'asp_unit-test-token-openapi-0000';
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aspire-openapi-'));
  store = openSqliteStore(join(dir, 'aspire.db'));
  await store.createToken('unit', sha256Hex(TOKEN), 0);
  const { config } = checkConfig({ dataDir: dir, enrollSecret: 'enroll-secret-1' }, 'test');
  server = await buildServer({ store, clock: new ManualClock(), logger: silentLogger(), config });
  await server.app.ready();
  doc = (await server.app.inject({ method: 'GET', url: OPENAPI_PATH })).json();
});
afterAll(async () => {
  await server?.stop();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const body = (path: string, method = 'post') =>
  doc.paths[`/api/v1/server${path}`]![method]!.requestBody.content['application/json'].schema;
const ok200 = (path: string, method = 'post') =>
  doc.paths[`/api/v1/server${path}`]![method]!.responses['200'].content['application/json'].schema;

describe('OpenAPI: the task engine (issue 13)', () => {
  it('POST /task: every field, each described; batch and max_errors take a count or a percentage', () => {
    const p = body('/task').properties;
    for (const k of [
      'command',
      'agents',
      'tags',
      'window',
      'parameters',
      'delay',
      'batch',
      'retry',
      'ttl',
      'ttr',
      'priority',
      'start_at',
      'max_errors',
      'after',
      'allow_unknown',
    ])
      expect(p, k).toHaveProperty(k);
    for (const k of ['priority', 'start_at', 'max_errors', 'after', 'allow_unknown', 'batch'])
      expect(p[k].description, k).toMatch(/\w/);
    expect(p.priority).toMatchObject({ type: 'integer', minimum: 0, maximum: 4_294_967_295 });
    expect(p.start_at).toMatchObject({ type: 'string', format: 'date-time' });
    for (const k of ['batch', 'max_errors'])
      expect(p[k].anyOf.map((s: any) => s.type).sort(), k).toEqual(['integer', 'string']);
    expect(p.after).toMatchObject({ type: 'array', items: { type: 'integer' } });
    expect(p.agents.maxItems).toBe(100_000);
  });

  it('the task routes and their answers: create, read (task and subtask fields), revoke, kick, touch, retry', () => {
    expect(ok200('/task').properties).toHaveProperty('results');
    const task = ok200('/task', 'get').properties.task.properties;
    for (const k of ['priority', 'start_at', 'batch_pct', 'max_errors', 'max_errors_pct', 'halt_reason', 'after'])
      expect(task, k).toHaveProperty(k);
    const sub = ok200('/task', 'get').properties.subtasks.items.properties;
    for (const k of ['buried_at', 'revoke_requested_at', 'expires_at', 'attempts']) expect(sub, k).toHaveProperty(k);
    expect(ok200('/task/revoke').properties).toHaveProperty('cancelling');
    expect(ok200('/task/kick').properties).toHaveProperty('kicked');
    expect(ok200('/task/touch').properties).toHaveProperty('touched');
    expect(ok200('/task/retry').properties).toHaveProperty('state');
    for (const path of ['/task/revoke', '/task/kick', '/task/touch', '/task/retry']) {
      expect(body(path).properties, path).toHaveProperty('subtask');
      expect(doc.paths[`/api/v1/server${path}`]!.post.summary, path).toMatch(/\w/);
    }
    expect(body('/task/retry').required).toEqual(['id']);
  });

  it("POST /package: design.md §5's JSON body is in the document and checked at the edge; uploads are not held to it", async () => {
    const op = doc.paths['/api/v1/server/package']!.post;
    const json = op.requestBody.content['application/json'].schema;
    expect(Object.keys(json.properties).sort()).toEqual(['arch', 'file', 'name', 'os', 'url', 'version']);
    expect(json.required.sort()).toEqual(['arch', 'file', 'name', 'os', 'version']);
    expect(json.description).toMatch(/packages\/\{os\}\/\{arch\}\/\{file\}/);
    // The design's body, the file already in the package directory.
    mkdirSync(join(dir, 'packages', 'linux', 'x86_64'), { recursive: true });
    writeFileSync(join(dir, 'packages', 'linux', 'x86_64', 'FoobarAgent-1.2.3.rpm'), 'rpm bytes');
    const seed = await server.app.inject({
      method: 'POST',
      url: '/api/v1/server/package',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: { name: 'FoobarAgent', version: '1.2.3', arch: 'x86_64', os: 'linux', file: 'FoobarAgent-1.2.3.rpm' },
    });
    expect(seed.statusCode, seed.body).toBe(200);
    expect(seed.json().package).toMatchObject({ name: 'FoobarAgent', size: 9 });
    const bad = await server.app.inject({
      method: 'POST',
      url: '/api/v1/server/package',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: { name: 'X', version: '1', arch: 'x86_64', os: 'linux', file: '../escape', extra: 1 },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ status: expect.any(Number), cause: expect.any(String) });
    // A raw upload is a stream: the JSON schema does not apply to it.
    const raw = await server.app.inject({
      method: 'POST',
      url: '/api/v1/server/package?name=RawAgent&version=1.0&os=linux&arch=x86_64&file=RawAgent-1.0.tar.gz',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      payload: Buffer.from('raw package bytes'),
    });
    expect(raw.statusCode, raw.body).toBe(200);
    expect(raw.json().package).toMatchObject({ name: 'RawAgent', size: 17 });
  });
});
