// The edge of the server, one module at a time: the paging parser (offset/limit as the query
// string has them), the JSON depth bound, and through app.inject the JSON body parser: a body
// nested too deep is refused whole, a status push keeps an event whose data is too deep or too
// large with the data replaced by a note (so the host's queue moves on); and no number ajv
// coerced to Infinity gets past validation.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@aspire/agent-core';
import { ApiStatus } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { buildServer, type AspireServer } from '../src/app.ts';
import { checkConfig } from '../src/config.ts';
import { BadRequestError } from '../src/http/bad-request.ts';
import { MAX_BODY_DEPTH, MAX_EVENT_DATA_BYTES, MAX_EVENT_DATA_DEPTH } from '../src/http/json-body.ts';
import { nonFiniteAt } from '../src/http/finite-numbers.ts';
import { jsonDepthExceeds } from '../src/http/json-depth.ts';
import { sha256Hex } from '../src/http/secrets.ts';
import { MAX_LIMIT, MAX_OFFSET, toPaging } from '../src/http/paging.ts';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite-store.ts';

describe('toPaging', () => {
  it('defaults, and takes decimal digits within the bounds', () => {
    expect(toPaging({})).toEqual({ offset: 0, limit: 20, order: 'asc', sortby: 'id' });
    expect(toPaging({ offset: '0', limit: '1' })).toMatchObject({ offset: 0, limit: 1 });
    expect(toPaging({ offset: String(MAX_OFFSET), limit: String(MAX_LIMIT) })).toMatchObject({
      offset: MAX_OFFSET,
      limit: MAX_LIMIT,
    });
    expect(toPaging({ offset: '007', order: 'desc', sortby: 'name' })).toEqual({
      offset: 7,
      limit: 20,
      order: 'desc',
      sortby: 'name',
    });
  });

  it.each([
    ['offset', 'Infinity'],
    ['offset', '1e400'],
    ['offset', '1e20'],
    ['offset', '-1'],
    ['offset', '1.5'],
    ['offset', '0x10'],
    ['offset', ''],
    ['offset', ' 1'],
    ['offset', '+1'],
    ['offset', '9007199254740992'],
    ['offset', '1'.repeat(400)],
    ['limit', 'Infinity'],
    ['limit', '0'],
    ['limit', '1001'],
    ['limit', 'NaN'],
  ])('%s=%s is a 400 naming the parameter', (name, value) => {
    let err: unknown;
    try {
      toPaging({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).statusCode).toBe(400);
    expect((err as Error).message).toMatch(new RegExp(`^${name} must be an integer from \\d+ to \\d+`));
  });
});

describe('jsonDepthExceeds', () => {
  const nest = (n: number): unknown => {
    let v: unknown = 1;
    for (let i = 0; i < n; i++) v = i % 2 ? [v] : { a: v };
    return v;
  };
  it('stops at the limit: a body far deeper than it does not overflow the stack', () => {
    expect(jsonDepthExceeds(1, 0)).toBe(false);
    expect(jsonDepthExceeds({}, 0)).toBe(true);
    expect(jsonDepthExceeds(nest(32), 32)).toBe(false);
    expect(jsonDepthExceeds(nest(33), 32)).toBe(true);
    expect(jsonDepthExceeds(nest(200_000), 64)).toBe(true);
    expect(jsonDepthExceeds({ a: [1, { b: 'x' }], c: null }, 3)).toBe(false);
  });
});

describe('nonFiniteAt', () => {
  it('finds the first non-finite number and says where', () => {
    expect(nonFiniteAt({ a: [1, 2, { b: 3 }], c: 'Infinity' })).toBeUndefined();
    expect(nonFiniteAt({ a: [1, Number.POSITIVE_INFINITY] })).toBe('/a/1');
    expect(nonFiniteAt(Number.NaN)).toBe('');
  });
});

describe('JSON bodies through buildServer', () => {
  let dir: string;
  let store: SqliteStore;
  let server: AspireServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aspire-edge-'));
    store = openSqliteStore(join(dir, 'aspire.db'));
    await store.createToken('edge', sha256Hex(TOKEN), 0);
    const { config } = checkConfig({ dataDir: dir }, 'test');
    server = await buildServer({ store, clock: new ManualClock(Date.UTC(2026, 0, 1)), logger: silentLogger(), config });
    await server.app.ready();
  });
  afterAll(async () => {
    await server?.stop();
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const TOKEN = 'asp_edge-test-token-00000000000000';
  const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
  const post = (url: string, payload: string, headers: Record<string, string> = {}) =>
    server.app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json', ...headers } });

  it('a status push keeps an event whose data is too deep or too large, with a note instead of the data', async () => {
    const reg = (await post('/agent/register', JSON.stringify({ hostname: 'edge', agentsn: 'edge-1' }))).json();
    const push = (events: string) =>
      post(
        '/agent/status',
        `{"hostname":"edge","agentsn":"${reg.agentsn}","version":"1","uptime":1,"timestamp":1,"step":10,"os":"linux","arch":"x86_64","agents":[],"jobs":[],"events":${events}}`,
        { 'x-aspire-credential': reg.credential },
      );
    const ev = (id: number, data: string) =>
      `{"localid":${id},"occurred":1767225600,"kind":"started","message":"m${id}","data":${data}}`;
    const res = await push(
      `[${ev(1, deep(5000))},${ev(2, `{"big":"${'x'.repeat(MAX_EVENT_DATA_BYTES)}"}`)},${ev(3, deep(MAX_EVENT_DATA_DEPTH))}]`,
    );
    expect(res.statusCode).toBe(200);
    const page = await store.listEvents({ agentsn: reg.agentsn }, { offset: 0, limit: 10, order: 'asc', sortby: 'id' });
    expect(page.items.map((e) => [e.message, e.data])).toEqual([
      ['m1', { dataDropped: `data nested deeper than ${MAX_EVENT_DATA_DEPTH} levels` }],
      ['m2', { dataDropped: `data larger than ${MAX_EVENT_DATA_BYTES} bytes` }],
      ['m3', JSON.parse(deep(MAX_EVENT_DATA_DEPTH))],
    ]);
  });

  it('any other body nested deeper than the bound is refused whole with 400', async () => {
    for (const url of ['/agent/register', '/agent/status']) {
      const res = await post(url, `{"hostname":"edge","agentsn":"x","extra":${deep(MAX_BODY_DEPTH + 1)}}`);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        status: ApiStatus.BAD_REQUEST,
        cause: `JSON body nested deeper than ${MAX_BODY_DEPTH} levels`,
      });
    }
    // Bad JSON and prototype poisoning are still fastify's refusals.
    expect((await post('/agent/register', '{"hostname":')).statusCode).toBe(400);
    expect((await post('/agent/register', '{"hostname":"h","agentsn":"a","__proto__":{"x":1}}')).statusCode).toBe(400);
  });

  it('a value ajv coerced to Infinity is a 400 naming where it was', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const q = await server.app.inject({ method: 'GET', url: '/api/v1/server/host?region=Infinity', headers: auth });
    expect(q.statusCode).toBe(400);
    expect(q.json()).toMatchObject({
      status: ApiStatus.BAD_REQUEST,
      cause: 'querystring/region must be a finite number',
    });
    const b = await post(
      '/api/v1/server/task',
      JSON.stringify({ command: 'restart', agents: ['edge-1'], parameters: { name: 'x' }, delay: '1e400' }),
      auth,
    );
    expect(b.statusCode).toBe(400);
    expect(b.json()).toMatchObject({ status: ApiStatus.BAD_REQUEST, cause: 'body/delay must be a finite number' });
    const fine = await server.app.inject({ method: 'GET', url: '/api/v1/server/host?region=0', headers: auth });
    expect(fine.statusCode).toBe(200);
  });
});
