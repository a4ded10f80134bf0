// Issue 13 (server side): the task engine's full model against the real server. Real BootAgent
// processes (three, step 1 s) where a job must really run (ttl with batch, max_errors, retries
// to BURIED and its expiry, a dependency chain, the design's package registered and installed);
// hosts that register and push over real HTTP from the test where the test must hold a host
// still to see an order or a time (the design's task example, priority, percentages, kick, touch,
// start_at, unknown AgentSNs).
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import { startAspire, startBoot, waitUntil, type AspireHandle, type BootHandle } from '@aspire/testing';
import { packFixture } from '../../packages/testing/fixtures/pack-fixture.ts';

let srv: AspireHandle;
const boots: BootHandle[] = [];
const sn: string[] = [];
let work: string;
let slow: Server;
let slowUrl: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-taskengine-'));
  srv = await startAspire({ config: { taskTtrSec: 30, taskBuriedTtlSec: 3 } });
  for (let i = 0; i < 3; i++)
    boots.push(await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step: 1 }));
  for (const b of boots) {
    const meta = await waitUntil(() => (b.readMeta()?.trusted ? b.readMeta() : undefined), {
      timeoutMs: 30_000,
      what: 'boot registered and trusted',
    });
    sn.push(meta.agentsn);
  }
  // A loopback package server that answers 404 after 4 s: a download that holds its host RESERVED.
  slow = createServer((_req, res) => {
    setTimeout(() => {
      res.statusCode = 404;
      res.end('no');
    }, 4000);
  });
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
  slowUrl = `http://127.0.0.1:${(slow.address() as { port: number }).port}/Slow-1.tar.gz`;
});

afterAll(async () => {
  const pids: number[] = [];
  for (const s of sn) {
    const h = await srv?.api('GET', `/api/v1/server/agent?agentsn=${s}`).catch(() => undefined);
    for (const a of h?.body?.host?.agents ?? []) if (typeof a.pid === 'number') pids.push(a.pid);
  }
  for (const b of boots) {
    await b.stop().catch(() => {});
    b.cleanup();
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  slow?.close();
  await srv?.stop();
  rmSync(work, { recursive: true, force: true });
});

const api = (m: string, p: string, b?: unknown) => srv.api(m, p, b);
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const BAD_CHECKSUM = `SHA256:${'0'.repeat(64)}`;

async function task(id: number) {
  return (await api('GET', `/api/v1/server/task?id=${id}`)).body;
}
async function waitTask(id: number, pred: (t: any) => boolean, what: string, timeoutMs = 45_000) {
  return waitUntil(
    async () => {
      const t = await task(id);
      return pred(t) ? t : undefined;
    },
    { timeoutMs, what, intervalMs: 200 },
  );
}
async function create(body: Record<string, unknown>): Promise<number> {
  const r = await api('POST', '/api/v1/server/task', body);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.id as number;
}
const bySn = (t: any) => Object.fromEntries(t.subtasks.map((s: any) => [s.agentsn, s]));

async function post(path: string, body: string | object, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** A host the test drives: registered for real, pushing only when the test says. */
async function fakeHost(agentsn: string) {
  const r = await post(
    '/agent/register',
    { hostname: `host-${agentsn}`, agentsn },
    { 'x-aspire-enroll': srv.enrollSecret },
  );
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const credential = r.body.credential as string;
  return {
    agentsn,
    async push(jobs: { id: string; errcode: number; message: string }[] = []): Promise<any[]> {
      const body = {
        hostname: `host-${agentsn}`,
        agentsn,
        version: '1.0.0',
        uptime: 5,
        timestamp: Math.floor(Date.now() / 1000),
        step: 600,
        agents: [],
        jobs,
        events: [],
        os: 'linux',
        arch: 'x86_64',
      };
      const res = await post('/agent/status', body, { 'x-aspire-credential': credential });
      expect(res.status).toBe(200);
      return res.body.jobs ?? [];
    },
  };
}

describe('task engine (issue 13)', () => {
  it('docs/design.md §5 package registration: the JSON body verbatim registers the file in the package dir (SHA256 computed); a url is fetched; ISO times', async () => {
    const dir = join(srv.dataDir, 'packages', 'linux', 'x86_64');
    mkdirSync(dir, { recursive: true });
    const bytes = Buffer.from('an rpm, for the registration\n');
    writeFileSync(join(dir, 'FoobarAgent-1.2.3-rc1.x86_64.rpm'), bytes);
    const seedBody = `{
	"name":"FoobarAgent",
	"version":"1.2.3-rc1",
	"arch":"x86_64",
	"os":"linux",
	"file":"FoobarAgent-1.2.3-rc1.x86_64.rpm"
}`;
    const r = await post('/api/v1/server/package', seedBody, { authorization: `Bearer ${srv.token}` });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.package).toMatchObject({
      name: 'FoobarAgent',
      version: '1.2.3-rc1',
      os: 'linux',
      arch: 'x86_64',
      file: 'FoobarAgent-1.2.3-rc1.x86_64.rpm',
      path: 'packages/linux/x86_64/FoobarAgent-1.2.3-rc1.x86_64.rpm',
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
    expect(r.body.package.gmt_create).toMatch(ISO);
    const listed = await api('GET', '/api/v1/server/package?name=FoobarAgent&offset=0&limit=10&order=asc&sortby=id');
    expect(listed.body).toMatchObject({
      status: 0,
      count: 1,
      packages: [{ name: 'FoobarAgent', version: '1.2.3-rc1' }],
    });
    expect(listed.body.packages[0].gmt_modify).toMatch(ISO);
    // A file that is not there: 400 saying how.
    const missing = await post(
      '/api/v1/server/package',
      { name: 'Nope', version: '1', arch: 'x86_64', os: 'linux', file: 'Nope-1.rpm' },
      { authorization: `Bearer ${srv.token}` },
    );
    expect(missing.status).toBe(400);
    expect(missing.body.cause).toMatch(/no file packages\/linux\/x86_64\/Nope-1\.rpm/);
    // Named by URL (a loopback server): fetched, hashed, stored under the generated path.
    const served = Buffer.from('fetched package bytes');
    const web = createServer((_q, s) => s.end(served));
    await new Promise<void>((ok) => web.listen(0, '127.0.0.1', ok));
    try {
      const url = `http://127.0.0.1:${(web.address() as { port: number }).port}/BarAgent-2.0.tar.gz`;
      const byUrl = await post(
        '/api/v1/server/package',
        { name: 'BarAgent', version: '2.0', arch: 'x86_64', os: 'linux', file: 'BarAgent-2.0.tar.gz', url },
        { authorization: `Bearer ${srv.token}` },
      );
      expect(byUrl.status, JSON.stringify(byUrl.body)).toBe(200);
      expect(byUrl.body.package).toMatchObject({
        path: 'packages/linux/x86_64/BarAgent-2.0.tar.gz',
        size: served.length,
        sha256: createHash('sha256').update(served).digest('hex'),
      });
    } finally {
      web.close();
    }
  }, 180_000);

  it('docs/design.md §5 task example verbatim (url given twice, the command:// one last): name derived, id and results[] per AgentSN; a second DELETE of a host says already deleted', async () => {
    const a = await fakeHost('9b62aabb-eda4-4d62-b036-b605d887bde3');
    await fakeHost('845d6374-7d4e-402f-87cc-2a780e794dd6');
    // The design's body, its "#" comments and the trailing comma removed (not JSON otherwise).
    const seedBody = `{
	"command": "install",
	"agents": [
		"9b62aabb-eda4-4d62-b036-b605d887bde3",
		"845d6374-7d4e-402f-87cc-2a780e794dd6"
	],
	"parameters": {
		"url": "http://xxxx",
		"url": "command://yum install MiniAgent -y"
	}
}`;
    const r = await post('/api/v1/server/task', seedBody, { authorization: `Bearer ${srv.token}` });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({
      id: expect.any(Number),
      status: 0,
      message: 'success',
      results: [
        { AgentSN: '9b62aabb-eda4-4d62-b036-b605d887bde3' },
        { AgentSN: '845d6374-7d4e-402f-87cc-2a780e794dd6' },
      ],
    });
    const t = await task(r.body.id);
    expect(t.task.parameters).toEqual({ url: 'command://yum install MiniAgent -y', name: 'MiniAgent' });
    for (const f of ['gmt_create', 'gmt_modify']) expect(t.task[f]).toMatch(ISO);
    for (const s of t.subtasks)
      for (const f of ['ready_at', 'gmt_create', 'gmt_modify', 'expires_at'])
        expect(s[f] === null || ISO.test(s[f])).toBe(true);
    // The host is handed the job with the derived name.
    const jobs = await a.push();
    expect(jobs).toMatchObject([{ action: 'install', name: 'MiniAgent', url: 'command://yum install MiniAgent -y' }]);
    expect((await api('POST', '/api/v1/server/task/revoke', { id: r.body.id })).body).toMatchObject({
      status: 0,
      revoked: 1,
      cancelling: 1,
    });
    // Not derivable: 400 saying how to name it.
    const unnamed = await api('POST', '/api/v1/server/task', {
      command: 'install',
      agents: [a.agentsn],
      parameters: { url: 'command://true' },
    });
    expect(unnamed.status).toBe(400);
    expect(unnamed.body.cause).toMatch(/parameters\.name: give the sub-agent name/);
    // A second DELETE of a host: success, cause "already deleted".
    const d1 = await api('DELETE', '/api/v1/server/host?agentsn=845d6374-7d4e-402f-87cc-2a780e794dd6');
    expect(d1.body).toMatchObject({ status: 0, deleted: 1 });
    expect(d1.body.cause).toBeUndefined();
    const d2 = await api('DELETE', '/api/v1/server/host?agentsn=845d6374-7d4e-402f-87cc-2a780e794dd6');
    expect(d2.status).toBe(200);
    expect(d2.body).toMatchObject({ status: 0, message: 'success', deleted: 0, cause: 'already deleted' });
  }, 180_000);

  it('an unknown AgentSN is refused with 400 listing the unknown ones (no task made); allow_unknown records them FAILED', async () => {
    const before = (await api('GET', '/api/v1/server/task?limit=1')).body.count;
    const r = await api('POST', '/api/v1/server/task', {
      command: 'config',
      agents: [sn[0], 'nope-1', 'nope-2'],
      parameters: { step: 1 },
    });
    expect(r.status).toBe(400);
    expect(r.body.unknown).toEqual(['nope-1', 'nope-2']);
    expect(r.body.cause).toMatch(/unknown AgentSN \(2\): nope-1, nope-2/);
    expect((await api('GET', '/api/v1/server/task?limit=1')).body.count).toBe(before);
    const id = await create({
      command: 'config',
      agents: [sn[0], 'nope-1'],
      parameters: { step: 1 },
      allow_unknown: true,
    });
    const t = await waitTask(id, (x) => x.task.status === 'COMPLETE', 'task with an unknown host complete');
    expect(bySn(t)['nope-1']).toMatchObject({ state: 'FAILED', errcode: ErrorCode.TASK_HOST_UNKNOWN });
    expect(bySn(t)[sn[0]!]).toMatchObject({ state: 'SUCCESS' });
  }, 180_000);

  it('ttl counts from entering READY: with batch 1 the host waiting PENDING longer than ttl is not failed by it', async () => {
    const id = await create({
      command: 'install',
      agents: [sn[0], sn[1]],
      batch: 1,
      ttl: 3,
      max_errors: '100%',
      parameters: { name: 'Slow', version: '1', url: slowUrl, checksum: BAD_CHECKSUM },
    });
    const t = await waitTask(id, (x) => x.task.status === 'COMPLETE', 'ttl+batch task complete', 60_000);
    const [first, second] = [...t.subtasks].sort(
      (x: any, y: any) => Date.parse(x.reserved_at) - Date.parse(y.reserved_at),
    );
    for (const s of [first, second]) {
      expect(s.attempts).toBe(1);
      expect(s.errcode).not.toBe(ErrorCode.TASK_EXPIRED);
    }
    // The second waited PENDING while the first ran its 4 s download: longer than the ttl.
    expect(Date.parse(second.reserved_at) - Date.parse(t.task.gmt_create)).toBeGreaterThan(3000);
    // Its expiry was set when it was admitted, ttl after that.
    expect(Date.parse(second.expires_at)).toBeGreaterThan(Date.parse(t.task.gmt_create) + 3000);
  }, 180_000);

  it('priority orders dispatch across tasks (lower first, default 1024)', async () => {
    const h = await fakeHost('sn-priority');
    const low = await create({ command: 'config', agents: [h.agentsn], priority: 2000, parameters: { step: 600 } });
    const mid = await create({ command: 'config', agents: [h.agentsn], parameters: { step: 600 } });
    const high = await create({ command: 'config', agents: [h.agentsn], priority: 10, parameters: { step: 600 } });
    expect((await task(mid)).task.priority).toBe(1024);
    const jobs = await h.push();
    const taskOf = new Map<string, number>();
    for (const id of [low, mid, high]) for (const s of (await task(id)).subtasks) taskOf.set(s.jobid, id);
    expect(jobs.map((j) => taskOf.get(j.id))).toEqual([high, mid, low]);
    await h.push(jobs.map((j) => ({ id: j.id, errcode: 0, message: 'ok' })));
    for (const id of [low, mid, high]) expect((await task(id)).task.status).toBe('COMPLETE');
  }, 180_000);

  it('max_errors (default 0) halts a rollout: the remaining subtasks REVOKED with a reason, the task says it halted', async () => {
    const id = await create({
      command: 'install',
      agents: sn,
      batch: 1,
      parameters: { name: 'Broken', version: '1', url: 'http://127.0.0.1:1/Broken-1.tar.gz', checksum: BAD_CHECKSUM },
    });
    const t = await waitTask(id, (x) => x.task.status === 'HALTED' && x.task.complete === 3, 'rollout halted');
    expect(t.task.halt_reason).toMatch(/halted: 1 failed subtasks exceed max_errors 0/);
    expect(t.task.max_errors).toBe(0);
    const states = t.subtasks.map((s: any) => s.state).sort();
    expect(states).toEqual(['FAILED', 'REVOKED', 'REVOKED']);
    for (const s of t.subtasks.filter((x: any) => x.state === 'REVOKED')) {
      expect(s).toMatchObject({ errcode: ErrorCode.TASK_HALTED, attempts: 0 });
      expect(s.message).toMatch(/max_errors/);
    }
    expect((await api('GET', '/api/v1/server/task?status=HALTED')).body.tasks.map((x: any) => x.id)).toContain(id);
  }, 180_000);

  it('batch as a percentage of the targets', async () => {
    const hosts = await Promise.all(['sn-pct-1', 'sn-pct-2', 'sn-pct-3', 'sn-pct-4'].map(fakeHost));
    const id = await create({
      command: 'config',
      agents: hosts.map((h) => h.agentsn),
      batch: '50%',
      parameters: { step: 600 },
    });
    const t = await task(id);
    expect(t.task).toMatchObject({ batch_pct: 50 });
    expect(t.states).toEqual({ READY: 2, PENDING: 2 });
    await api('POST', '/api/v1/server/task/revoke', { id });
  }, 180_000);

  it('kick on DELAYED runs it now (the whole task or one subtask)', async () => {
    const h1 = await fakeHost('sn-kick-1');
    const h2 = await fakeHost('sn-kick-2');
    const id = await create({
      command: 'config',
      agents: [h1.agentsn, h2.agentsn],
      delay: 3600,
      parameters: { step: 600 },
    });
    expect((await task(id)).states).toEqual({ DELAYED: 2 });
    expect(await h1.push()).toEqual([]);
    const one = bySn(await task(id))[h1.agentsn].id;
    expect((await api('POST', '/api/v1/server/task/kick', { id, subtask: one })).body).toMatchObject({
      status: 0,
      kicked: 1,
    });
    const t = await task(id);
    expect(bySn(t)[h1.agentsn].state).toBe('READY');
    expect(bySn(t)[h2.agentsn].state).toBe('DELAYED');
    expect(await h1.push()).toHaveLength(1);
    expect((await api('POST', '/api/v1/server/task/kick', { id })).body).toMatchObject({ status: 0, kicked: 1 });
    expect(await h2.push()).toHaveLength(1);
  }, 180_000);

  it('retries exhausted go to BURIED, then expire to FAILED after taskBuriedTtlSec', async () => {
    const id = await create({
      command: 'install',
      agents: [sn[2]],
      retry: { count: 1, interval: 0 },
      parameters: { name: 'Broken', version: '1', url: 'http://127.0.0.1:1/Broken-1.tar.gz', checksum: BAD_CHECKSUM },
    });
    const b = await waitTask(id, (x) => x.subtasks[0].state === 'BURIED', 'buried');
    expect(b.subtasks[0]).toMatchObject({ attempts: 2, errcode: ErrorCode.TASK_RETRIES_EXHAUSTED });
    expect(b.subtasks[0].buried_at).toMatch(ISO);
    const f = await waitTask(id, (x) => x.subtasks[0].state === 'FAILED', 'buried subtask expired');
    expect(f.subtasks[0]).toMatchObject({ errcode: ErrorCode.TASK_BURIED_EXPIRED });
    expect(Date.parse(f.subtasks[0].gmt_modify) - Date.parse(b.subtasks[0].buried_at)).toBeGreaterThanOrEqual(3000);
  }, 180_000);

  it('touch gives a RESERVED subtask its full ttr again; not RESERVED is 409', async () => {
    const h = await fakeHost('sn-touch');
    const id = await create({ command: 'config', agents: [h.agentsn], ttr: 2, parameters: { step: 600 } });
    const [job] = await h.push();
    const first = bySn(await task(id))[h.agentsn];
    expect(first.state).toBe('RESERVED');
    await new Promise((r) => setTimeout(r, 300));
    const touched = await api('POST', '/api/v1/server/task/touch', { id, subtask: first.id });
    expect(touched.body).toMatchObject({ status: 0, touched: 1 });
    const after = bySn(await task(id))[h.agentsn];
    expect(Date.parse(after.reserved_at)).toBeGreaterThan(Date.parse(first.reserved_at));
    // The ttr now runs from the touch: the requeue comes no earlier than touch + ttr.
    const requeued = await waitTask(id, (x) => x.subtasks[0].state === 'READY', 'ttr ran out after the touch', 20_000);
    expect(Date.parse(requeued.subtasks[0].gmt_modify)).toBeGreaterThanOrEqual(Date.parse(after.reserved_at) + 2000);
    expect((await api('POST', '/api/v1/server/task/touch', { id, subtask: first.id })).status).toBe(409);
    await h.push([{ id: job.id, errcode: 0, message: 'ok' }]);
  }, 180_000);

  it('start_at (absolute UTC) schedules an AgentSN task: DELAYED until then, then dispatched', async () => {
    const h = await fakeHost('sn-start-at');
    const startAt = new Date(Date.now() + 2500).toISOString();
    const id = await create({ command: 'config', agents: [h.agentsn], start_at: startAt, parameters: { step: 600 } });
    const t = await task(id);
    expect(t.task.start_at).toBe(startAt);
    expect(t.subtasks[0]).toMatchObject({ state: 'DELAYED', ready_at: startAt });
    expect(await h.push()).toEqual([]);
    await waitTask(id, (x) => x.subtasks[0].state === 'READY', 'start_at reached', 20_000);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(startAt));
    expect(await h.push()).toHaveLength(1);
  }, 180_000);

  it('a two-task dependency chain on three hosts: the host that fails the first task gets its dependent subtask FAILED with its own code; the others run', async () => {
    // IdleAgent registered with the design's JSON body (file put in the package dir) and installed on two hosts.
    const packed = await packFixture({ fixture: 'idle-agent', name: 'IdleAgent', version: '1.0.0', outDir: work });
    const arch = (await api('GET', `/api/v1/server/agent?agentsn=${sn[0]}`)).body.host.arch as string;
    mkdirSync(join(srv.dataDir, 'packages', 'linux', arch), { recursive: true });
    copyFileSync(packed.file, join(srv.dataDir, 'packages', 'linux', arch, 'IdleAgent-1.0.0.tar.gz'));
    const reg = await post(
      '/api/v1/server/package',
      { name: 'IdleAgent', version: '1.0.0', arch, os: 'linux', file: 'IdleAgent-1.0.0.tar.gz' },
      { authorization: `Bearer ${srv.token}` },
    );
    expect(reg.body.package.sha256).toBe(packed.sha256);
    const install = await create({
      command: 'install',
      agents: [sn[0], sn[1]],
      parameters: { name: 'IdleAgent', version: '1.0.0' },
    });
    await waitTask(install, (x) => x.task.status === 'COMPLETE', 'IdleAgent installed on two hosts', 60_000);
    // First task: restart IdleAgent on all three (the third has none: it fails there).
    const first = await create({ command: 'restart', agents: sn, max_errors: 1, parameters: { name: 'IdleAgent' } });
    const second = await create({ command: 'config', agents: sn, after: [first], parameters: { step: 1 } });
    expect((await task(second)).task.after).toEqual([first]);
    const t1 = await waitTask(first, (x) => x.task.status === 'COMPLETE', 'first task complete', 60_000);
    const t2 = await waitTask(second, (x) => x.task.status === 'COMPLETE', 'second task complete', 60_000);
    expect(bySn(t1)[sn[0]!].state).toBe('SUCCESS');
    expect(bySn(t1)[sn[1]!].state).toBe('SUCCESS');
    expect(bySn(t1)[sn[2]!].state).toBe('FAILED');
    expect(bySn(t2)[sn[2]!]).toMatchObject({ state: 'FAILED', errcode: ErrorCode.TASK_DEPENDENCY_FAILED, attempts: 0 });
    for (const s of [sn[0]!, sn[1]!]) {
      expect(bySn(t2)[s].state).toBe('SUCCESS');
      // It ran only after the same host's first-task subtask had succeeded.
      expect(Date.parse(bySn(t2)[s].reserved_at)).toBeGreaterThanOrEqual(Date.parse(bySn(t1)[s].gmt_modify));
    }
    // Unknown ids in after are refused at creation (a new task cannot name itself or a later one: no cycle can form).
    const bad = await api('POST', '/api/v1/server/task', {
      command: 'config',
      agents: [sn[0]],
      after: [999_999],
      parameters: { step: 1 },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.cause).toMatch(/after: unknown task ids 999999/);
  }, 180_000);
});
