// Bounded, seeded fuzz of the real server (port 0, its own SQLite file): every route of the
// OpenAPI document plus the agent endpoints gets mutated valid bodies (types swapped, huge and
// non-finite numbers, NaN-like strings, deep nesting, unicode, long strings, missing and extra
// fields) and hostile query strings and path parameters. No answer may be a 5xx; afterwards the
// database passes PRAGMA integrity_check and a known host and task are still readable.
// The seed is printed; ASPIRE_FUZZ_SEED=<n> replays a run, ASPIRE_FUZZ_INPUTS=<n> sizes it.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCa, startAspire, type AspireHandle } from '@aspire/testing';

const SEED = Number(process.env.ASPIRE_FUZZ_SEED ?? randomBytes(4).readUInt32LE(0));
const INPUTS = Number(process.env.ASPIRE_FUZZ_INPUTS ?? 2000);
const PARALLEL = 6;

/** mulberry32: a small seeded PRNG, enough to replay a run from its seed. */
class Rng {
  constructor(private state: number) {}
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// Deep nesting is spliced into the JSON text after JSON.stringify (which would itself overflow
// on the value): a placeholder string names the depth and the kind of container.
const DEEP = (depth: number, kind: 'o' | 'a') => `\u0001DEEP${depth}${kind}\u0001`;
function toJsonText(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0001DEEP(\d+)([oa])\\u0001"/g, (_m, d: string, k: string) => {
    const n = Number(d);
    return k === 'o' ? '{"a":'.repeat(n) + '1' + '}'.repeat(n) : '['.repeat(n) + ']'.repeat(n);
  });
}

const HOSTILE_STRINGS = [
  '',
  ' ',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e400',
  '-1e400',
  '1e20',
  '-1',
  '0',
  '1.5',
  '0x10',
  '+5',
  '007',
  '9007199254740993',
  '18446744073709551616',
  'null',
  'true',
  '[]',
  '{}',
  '%',
  '%00',
  '\u0000',
  '\u202eevil',
  '💥🔥',
  '\ud800',
  'Ǆ̈',
  "'; DROP TABLE hosts; --",
  '../../etc/passwd',
  '$(id)',
  '`id`',
  'a=b,c',
  '=',
  ',,',
];
const HOSTILE_NUMBERS = [
  0,
  -1,
  -0,
  0.5,
  1e308,
  -1e308,
  2 ** 53 + 1,
  2 ** 64,
  Number.MAX_SAFE_INTEGER,
  1e-320,
  4294967296,
];

function hostileValue(rng: Rng): unknown {
  switch (rng.int(10)) {
    case 0:
      return rng.pick(HOSTILE_NUMBERS);
    case 1:
      return rng.pick(HOSTILE_STRINGS);
    case 2:
      return DEEP(rng.pick([40, 70, 5000, 20000]), rng.chance(0.5) ? 'o' : 'a');
    case 3:
      return 'x'.repeat(rng.pick([256, 4097, 70_000]));
    case 4:
      return String.fromCodePoint(
        ...Array.from({ length: 1 + rng.int(40) }, () => rng.int(0x10ffff + 1)).filter((c) => c < 0xd800 || c > 0xdfff),
      );
    case 5:
      return rng.pick([null, true, false, [], {}, [1, 'a', null]]);
    case 6:
      return { nested: rng.pick(HOSTILE_STRINGS), n: rng.pick(HOSTILE_NUMBERS) };
    case 7:
      return Array.from({ length: rng.pick([0, 1, 3, 5000]) }, () => rng.pick(HOSTILE_STRINGS));
    case 8:
      return '1e400'; // the coercion ajv turns into Infinity
    default:
      return rng.pick(HOSTILE_STRINGS) + rng.pick(HOSTILE_STRINGS);
  }
}

type Json = Record<string, unknown>;

/** A minimal value a JSON schema accepts (the OpenAPI request bodies), to mutate from. */
function sample(schema: any, key = ''): unknown {
  if (!schema || typeof schema !== 'object') return null;
  if (schema.enum) return schema.enum[0];
  if (schema.const !== undefined) return schema.const;
  const alt = schema.anyOf ?? schema.oneOf;
  if (alt) return sample(alt[0], key);
  switch (schema.type) {
    case 'object': {
      const o: Json = {};
      for (const [k, s] of Object.entries<any>(schema.properties ?? {})) o[k] = sample(s, k);
      return o;
    }
    case 'array':
      return [sample(schema.items, key)];
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    case 'string':
      return /tag/i.test(key) ? 'env=fz' : 'fz';
    default:
      return null;
  }
}

/** Mutate a valid body: set, delete or add fields at any depth, or replace it whole. */
function mutate(rng: Rng, body: unknown): unknown {
  if (rng.chance(0.08)) return hostileValue(rng);
  const copy = structuredClone(body) as unknown;
  const rounds = 1 + rng.int(3);
  for (let i = 0; i < rounds; i++) {
    // Walk to a random container.
    let target: any = copy;
    for (let d = 0; d < 4 && target && typeof target === 'object'; d++) {
      const keys = Object.keys(target);
      if (keys.length === 0 || rng.chance(0.4)) break;
      const next = target[rng.pick(keys)];
      if (!next || typeof next !== 'object') break;
      target = next;
    }
    if (!target || typeof target !== 'object') return copy;
    const keys = Object.keys(target);
    const op = rng.int(3);
    if (op === 0 && keys.length > 0) target[rng.pick(keys)] = hostileValue(rng);
    else if (op === 1 && keys.length > 0) delete target[rng.pick(keys)];
    else
      target[Array.isArray(target) ? target.length : rng.pick(['extra', '__proto__x', 'constructor', 'data', '💥'])] =
        hostileValue(rng);
  }
  return copy;
}

interface Route {
  method: string;
  path: string;
  query: string[];
  pathParams: string[];
  body?: unknown;
}

let srv: AspireHandle;
let agentsn: string;
let credential: string;
let taskId: number;
const routes: Route[] = [];

function statusBody(): Json {
  return {
    hostname: 'fuzz-host',
    agentsn,
    version: '1.0.0',
    uptime: 5,
    timestamp: Math.floor(Date.now() / 1000),
    step: 10,
    os: 'linux',
    arch: 'x86_64',
    tags: 'env=fz',
    agents: [{ name: 'BasicAgent', version: '1.2.3', status: 'running', uptime: 4 }],
    jobs: [{ id: 'job-1', errcode: 0, message: 'ok' }],
    events: [
      {
        localid: 1,
        occurred: 1_700_000_000,
        kind: 'started',
        agent: 'BasicAgent',
        message: 'started',
        data: { pid: 1 },
      },
    ],
  };
}

beforeAll(async () => {
  // With the command hub, so its Polaris routes are fuzzed too (no agent connects).
  const ca = makeTestCa();
  srv = await startAspire({
    hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile },
    config: { rateLimit: { statusPerSec: 1e6, statusBurst: 1e6, registerPerSec: 1e6, registerBurst: 1e6 } },
  });
  const reg = await fetch(`${srv.url}/agent/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-aspire-enroll': srv.enrollSecret },
    body: JSON.stringify({
      hostname: 'fuzz-host',
      agentsn: 'fuzz-known',
      os: 'linux',
      arch: 'x86_64',
      version: '1.0.0',
    }),
  });
  const r = (await reg.json()) as { agentsn: string; credential: string };
  agentsn = r.agentsn;
  credential = r.credential;
  const task = await srv.api('POST', '/api/v1/server/task', {
    command: 'restart',
    agents: [agentsn],
    parameters: { name: 'BasicAgent' },
  });
  expect(task.status).toBe(200);
  taskId = task.body.id ?? task.body.taskid;
  expect(taskId).toBeGreaterThan(0);

  const doc = (await srv.api('GET', '/api/v1/server/openapi.json')).body as {
    paths: Record<string, Record<string, any>>;
  };
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const params = (op.parameters ?? []) as { in: string; name: string }[];
      const undocumented = UNDOCUMENTED[`${method.toUpperCase()} ${path}`];
      for (const name of undocumented?.query ?? []) params.push({ in: 'query', name });
      const schema = op.requestBody?.content?.['application/json']?.schema ?? undocumented?.body;
      routes.push({
        method: method.toUpperCase(),
        path,
        query: params.filter((p) => p.in === 'query').map((p) => p.name),
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        ...(schema ? { body: path === '/agent/status' ? statusBody() : sample(schema) } : {}),
      });
    }
  }
}, 120_000);
afterAll(async () => {
  await srv?.stop();
});

/** Routes that read their body without a schema (so the OpenAPI document does not describe it). */
const UNDOCUMENTED: Record<string, { query?: string[]; body?: unknown }> = {
  'POST /api/v1/server/polaris/tasks': {
    body: {
      type: 'object',
      properties: { host: { type: 'string' }, name: { type: 'string' }, line: { type: 'string' } },
    },
  },
};

const VALID_QUERY: Record<string, string[]> = {
  offset: ['0', '1'],
  limit: ['1', '20', '1000'],
  order: ['asc', 'desc'],
  sortby: ['id'],
  status: ['online'],
  agentsn: ['fuzz-other'],
  id: ['1', '2'],
  since: ['0'],
  until: ['2000000000'],
  points: ['10'],
  name: ['FooAgent'],
  version: ['1.0'],
  os: ['linux'],
  arch: ['x86_64'],
  file: ['f.bin'],
  host: ['fuzz-host'],
};

/** encodeURIComponent, but a lone surrogate goes out as the invalid UTF-8 it would be (%ED%A0%80). */
function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return s
      .split(/[\ud800-\udfff]/)
      .map((p) => encodeURIComponent(p))
      .join('%ED%A0%80');
  }
}

function queryString(rng: Rng, names: string[], method: string): string {
  const parts: string[] = [];
  for (const name of names) {
    if (!rng.chance(0.5)) continue;
    const v = rng.chance(0.5) ? rng.pick(VALID_QUERY[name] ?? ['fz']) : String(rng.pick(HOSTILE_STRINGS));
    // Never the known host or task on a route that deletes or resets.
    if (method === 'DELETE' && (v === agentsn || v === String(taskId))) continue;
    parts.push(`${enc(name)}=${enc(v)}`);
    if (rng.chance(0.05)) parts.push(`${enc(name)}=${enc(v)}`);
  }
  if (rng.chance(0.05)) parts.push(`unknown=${enc(rng.pick(HOSTILE_STRINGS))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

interface Input {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

function makeInput(rng: Rng): Input {
  const route = rng.pick(routes);
  let path = route.path;
  for (const p of route.pathParams)
    path = path.replace(`{${p}}`, enc(String(rng.pick([...HOSTILE_STRINGS.filter((s) => s !== ''), '1', 'fz']))));
  const headers: Record<string, string> = {};
  if (path.startsWith('/api/')) {
    const auth = rng.next();
    if (auth < 0.9) headers.authorization = `Bearer ${srv.token}`;
    else if (auth < 0.95)
      headers.authorization = `Bearer ${rng.pick(HOSTILE_STRINGS.filter((v) => /^[\x20-\x7e]*$/.test(v)))}x`;
  }
  if (path === '/agent/register') headers['x-aspire-enroll'] = srv.enrollSecret;
  if (path === '/agent/status' && rng.chance(0.85)) headers['x-aspire-credential'] = credential;
  const input: Input = {
    method: route.method,
    url: `${srv.url}${path}${queryString(rng, route.query, route.method)}`,
    headers,
  };
  if (route.method === 'POST' && route.path === '/api/v1/server/package') {
    headers['content-type'] = 'application/octet-stream';
    input.body = randomBytesFrom(rng, rng.int(2048));
  } else if (route.body !== undefined || (route.method !== 'GET' && rng.chance(0.3))) {
    headers['content-type'] = rng.chance(0.95)
      ? 'application/json'
      : rng.pick(['text/plain', 'application/json; charset=latin1', 'application/x-www-form-urlencoded']);
    const r = rng.next();
    if (r < 0.05) input.body = '';
    else if (r < 0.1) input.body = toJsonText(route.body ?? {}).slice(0, rng.int(40));
    else if (route.body === undefined) input.body = toJsonText(hostileValue(rng));
    else input.body = toJsonText(focused(rng, route) ?? mutate(rng, route.body));
  }
  return input;
}

/**
 * The status push's events[].data is free-form: aim there often, in an otherwise valid push
 * (the random mutations rarely reach depth 3, and mostly break the push elsewhere too).
 */
function focused(rng: Rng, route: Route): unknown {
  if (route.path !== '/agent/status' || !rng.chance(0.3)) return undefined;
  const body = structuredClone(route.body) as { events: { data?: unknown }[] };
  const deep = DEEP(rng.pick([33, 60, 5000, 20000]), rng.chance(0.5) ? 'o' : 'a');
  body.events[0]!.data = rng.pick([{ deep }, { n: hostileValue(rng) }, hostileValue(rng), { big: 'x'.repeat(20_000) }]);
  return body;
}

function randomBytesFrom(rng: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

describe('fuzz: hostile input never answers 5xx', () => {
  it(`${INPUTS} seeded inputs over every route, then an intact database`, async () => {
    const rng = new Rng(SEED);
    const inputs = Array.from({ length: INPUTS }, () => makeInput(rng));
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < inputs.length) {
        const i = next++;
        const input = inputs[i]!;
        const res = await fetch(input.url, {
          method: input.method,
          headers: input.headers,
          ...(input.body !== undefined ? { body: input.body } : {}),
        });
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500) {
          const body = typeof input.body === 'string' ? input.body.slice(0, 300) : `<${input.body?.length ?? 0} bytes>`;
          failures.push(
            `#${i} ${input.method} ${input.url.slice(srv.url.length, srv.url.length + 300)} body=${body} -> ${res.status} ${text.slice(0, 200)}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const ms = Date.now() - started;
    console.log(
      `fuzz: seed=${SEED} inputs=${inputs.length} routes=${routes.length} in ${ms} ms; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))} (replay: ASPIRE_FUZZ_SEED=${SEED})`,
    );
    expect(failures.slice(0, 20)).toEqual([]);
    expect(routes.length).toBeGreaterThan(20);

    // The database is intact and the known rows are still there.
    const db = new DatabaseSync(join(srv.dataDir, 'aspire.db'), { readOnly: true });
    try {
      expect(db.prepare('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }]);
    } finally {
      db.close();
    }
    const host = await srv.api('GET', `/api/v1/server/agent?agentsn=${agentsn}`);
    expect(host.status).toBe(200);
    expect(host.body.host.agentsn).toBe(agentsn);
    const task = await srv.api('GET', `/api/v1/server/task?id=${taskId}`);
    expect(task.status).toBe(200);
    expect(JSON.stringify(task.body)).toContain(`"id":${taskId}`);
    expect(srv.child.proc.exitCode).toBeNull();
  }, 300_000);
});
