// Packages on the real server: upload (raw and multipart, streamed, size limit, SHA-256),
// list/filter/page, delete, and agents downloading them (signed link, Range) through an
// install task that names the package by name and version.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiStatus, ErrorCode } from '@aspire/protocol';
import { startAspire, type AspireHandle } from '@aspire/testing';

const LIMIT = 256 * 1024;
let srv: AspireHandle;

beforeAll(async () => {
  srv = await startAspire({ config: { uploadMaxBytes: LIMIT } });
});
afterAll(async () => {
  await srv?.stop();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function uploadRaw(q: Record<string, string>, body: Buffer | ReadableStream<Uint8Array>, token = srv.token) {
  const res = await fetch(`${srv.url}/api/v1/server/package?${new URLSearchParams(q)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body,
    duplex: 'half',
  } as RequestInit);
  return { status: res.status, body: (await res.json()) as any };
}

function files(): string[] {
  const root = join(srv.dataDir, 'packages');
  if (!existsSync(root)) return [];
  return (readdirSync(root, { recursive: true }) as string[])
    .filter((p) => /\.(tar\.gz|rpm|bin)$/.test(p) || p.startsWith('.incoming/'))
    .sort();
}

async function registerHost(sn: string, arch = 'x86_64') {
  const reg = await fetch(`${srv.url}/agent/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-aspire-enroll': srv.enrollSecret },
    body: JSON.stringify({ hostname: sn, agentsn: sn }),
  }).then((r) => r.json() as Promise<any>);
  const push = async () =>
    fetch(`${srv.url}/agent/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-aspire-credential': reg.credential },
      body: JSON.stringify({
        hostname: sn,
        agentsn: sn,
        version: '1',
        uptime: 1,
        timestamp: 1,
        step: 1,
        agents: [],
        jobs: [],
        events: [],
        os: 'linux',
        arch,
      }),
    }).then((r) => r.json() as Promise<any>);
  await push();
  return { credential: reg.credential as string, push };
}

describe('package upload', () => {
  const data = randomBytes(100_000);

  it('raw body: stored at packages/{os}/{arch}/{file} with its SHA-256', async () => {
    const res = await uploadRaw(
      { name: 'FooAgent', version: '1.0.0', os: 'linux', arch: 'x86_64', file: 'FooAgent-1.0.0.tar.gz' },
      data,
    );
    expect(res.status).toBe(200);
    expect(res.body.package).toMatchObject({
      name: 'FooAgent',
      version: '1.0.0',
      os: 'linux',
      arch: 'x86_64',
      path: 'packages/linux/x86_64/FooAgent-1.0.0.tar.gz',
      size: data.length,
      sha256: sha(data),
    });
    expect(sha(readFileSync(join(srv.dataDir, 'packages/linux/x86_64/FooAgent-1.0.0.tar.gz')))).toBe(sha(data));
  });

  it('multipart: fields and one file part', async () => {
    const fd = new FormData();
    for (const [k, v] of Object.entries({ name: 'FooAgent', version: '1.1.0', os: 'linux', arch: 'aarch64' }))
      fd.append(k, v);
    const d2 = randomBytes(5000);
    fd.append('file', new Blob([d2]), 'FooAgent-1.1.0.tar.gz');
    const r = await fetch(`${srv.url}/api/v1/server/package`, {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.token}` },
      body: fd,
    });
    const body = (await r.json()) as any;
    expect(r.status).toBe(200);
    expect(body.package).toMatchObject({
      version: '1.1.0',
      arch: 'aarch64',
      file: 'FooAgent-1.1.0.tar.gz',
      sha256: sha(d2),
      size: 5000,
    });
  });

  it('refusals leave no file: duplicate, bad names, over the limit (declared, chunked, multipart), no token', async () => {
    const before = files();
    const dup = await uploadRaw(
      { name: 'FooAgent', version: '1.0.0', os: 'linux', arch: 'x86_64', file: 'Other.tar.gz' },
      data,
    );
    expect(dup.status).toBe(409);
    expect(dup.body.status).toBe(ApiStatus.CONFLICT);
    const bad = await uploadRaw(
      { name: 'FooAgent', version: '2.0.0', os: 'linux', arch: 'x86_64', file: '..%2Fescape' },
      data,
    );
    expect(bad.status).toBe(400);
    const missing = await uploadRaw({ name: 'FooAgent', version: '2.0.0' }, data);
    expect(missing.status).toBe(400);
    expect(missing.body.cause).toMatch(/os: required/);
    const big = randomBytes(LIMIT + 1);
    const declared = await uploadRaw(
      { name: 'Big', version: '1', os: 'linux', arch: 'x86_64', file: 'Big-1.bin' },
      big,
    );
    expect(declared.status).toBe(413);
    expect(declared.body.status).toBe(ApiStatus.PAYLOAD_TOO_LARGE);
    // No Content-Length: the stream is counted while it is written, and the partial file removed.
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent > LIMIT * 2) return c.close();
        sent += 64 * 1024;
        c.enqueue(randomBytes(64 * 1024));
      },
    });
    const chunked = await uploadRaw(
      { name: 'Big', version: '2', os: 'linux', arch: 'x86_64', file: 'Big-2.bin' },
      stream,
    ).catch((e: Error) => ({ status: -1, body: e.message }));
    expect(chunked.status).toBe(413);
    const fd = new FormData();
    for (const [k, v] of Object.entries({ name: 'Big', version: '3', os: 'linux', arch: 'x86_64' })) fd.append(k, v);
    fd.append('file', new Blob([randomBytes(LIMIT + 10_000)]), 'Big-3.bin');
    const mp = await fetch(`${srv.url}/api/v1/server/package`, {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.token}` },
      body: fd,
    });
    expect(mp.status).toBe(413);
    const noauth = await uploadRaw(
      { name: 'NoAuth', version: '1', os: 'linux', arch: 'x86_64', file: 'NoAuth-1.bin' },
      data,
      'wrong-token-xxxxxxxx',
    );
    expect(noauth.status).toBe(401);
    expect(files()).toEqual(before);
    const list = await srv.api('GET', '/api/v1/server/package?limit=100');
    expect(list.body.packages.map((p: any) => p.name).sort()).toEqual(['FooAgent', 'FooAgent']);
  });

  it('list: filters, paging, sorting; unknown sortby rejected', async () => {
    await uploadRaw(
      { name: 'BarAgent', version: '0.9', os: 'linux', arch: 'x86_64', file: 'BarAgent-0.9.tar.gz' },
      randomBytes(10),
    );
    const all = await srv.api('GET', '/api/v1/server/package?offset=0&limit=2&order=desc&sortby=name');
    expect(all.body).toMatchObject({ status: 0, count: 3, offset: 0, limit: 2 });
    expect(all.body.packages.map((p: any) => p.name)).toEqual(['FooAgent', 'FooAgent']);
    const page2 = await srv.api('GET', '/api/v1/server/package?offset=2&limit=2&order=desc&sortby=name');
    expect(page2.body.packages.map((p: any) => p.name)).toEqual(['BarAgent']);
    const foo = await srv.api('GET', '/api/v1/server/package?name=FooAgent&version=1.1.0');
    expect(foo.body.count).toBe(1);
    const bad = await srv.api('GET', '/api/v1/server/package?sortby=sha256');
    expect(bad.status).toBe(400);
    const badLimit = await srv.api('GET', '/api/v1/server/package?limit=100000');
    expect(badLimit.status).toBe(400);
  });

  it('delete removes rows and files', async () => {
    const res = await srv.api('DELETE', '/api/v1/server/package?name=BarAgent');
    expect(res.body).toMatchObject({ status: 0, deleted: 1 });
    expect(existsSync(join(srv.dataDir, 'packages/linux/x86_64/BarAgent-0.9.tar.gz'))).toBe(false);
    expect((await srv.api('DELETE', '/api/v1/server/package?name=BarAgent')).status).toBe(404);
    expect((await srv.api('DELETE', '/api/v1/server/package')).status).toBe(400);
  });
});

describe('agents get packages from the server', () => {
  it('an install task by name+version is delivered with a signed url and checksum; downloads honour Range', async () => {
    const data = readFileSync(join(srv.dataDir, 'packages/linux/x86_64/FooAgent-1.0.0.tar.gz'));
    const h = await registerHost('pkg-host');
    const other = await registerHost('pkg-host-ppc', 'ppc64le');
    const created = await srv.api('POST', '/api/v1/server/task', {
      command: 'install',
      agents: ['pkg-host', 'pkg-host-ppc'],
      parameters: { name: 'FooAgent', version: '1.0.0' },
    });
    expect(created.status).toBe(200);
    const reply = await h.push();
    expect(reply.jobs).toHaveLength(1);
    const job = reply.jobs[0];
    expect(job).toMatchObject({
      action: 'install',
      name: 'FooAgent',
      version: '1.0.0',
      checksum: `SHA256:${sha(data)}`,
    });
    expect(job.url).toMatch(new RegExp(`^${srv.url}/agent/package/\\d+/FooAgent-1\\.0\\.0\\.tar\\.gz\\?`));
    const full = await fetch(job.url);
    expect(full.status).toBe(200);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(sha(Buffer.from(await full.arrayBuffer()))).toBe(sha(data));
    const part = await fetch(job.url, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${data.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(data.subarray(100, 200))).toBe(true);
    const tail = await fetch(job.url, { headers: { range: `bytes=${data.length - 10}-` } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(data.subarray(data.length - 10))).toBe(true);
    const beyond = await fetch(job.url, { headers: { range: `bytes=${data.length}-` } });
    expect(beyond.status).toBe(416);
    expect(((await beyond.json()) as any).status).toBe(ApiStatus.RANGE_NOT_SATISFIABLE);
    // The link is bound to its host and signature; the host credential works as well.
    const forged = job.url.replace(/agentsn=[^&]+/, 'agentsn=someone-else');
    expect((await fetch(forged)).status).toBe(401);
    const u = new URL(job.url);
    const byCred = await fetch(`${u.origin}${u.pathname}?agentsn=pkg-host`, {
      headers: { 'x-aspire-credential': h.credential },
    });
    expect(byCred.status).toBe(200);
    await byCred.arrayBuffer();
    expect((await fetch(`${u.origin}${u.pathname}?agentsn=pkg-host`)).status).toBe(401);
    // A host of an arch without an upload gets TASK_NO_PACKAGE instead of a job.
    expect((await other.push()).jobs).toEqual([]);
    const t = await srv.api('GET', `/api/v1/server/task?id=${created.body.id}`);
    expect(t.body.subtasks.find((s: any) => s.agentsn === 'pkg-host-ppc')).toMatchObject({
      state: 'FAILED',
      errcode: ErrorCode.TASK_NO_PACKAGE,
    });
  });

  it('an install task naming an unknown package is refused', async () => {
    const res = await srv.api('POST', '/api/v1/server/task', {
      command: 'install',
      agents: ['pkg-host'],
      parameters: { name: 'Nope', version: '9' },
    });
    expect(res.status).toBe(404);
    expect(res.body.status).toBe(ApiStatus.NOT_FOUND);
  });
});
