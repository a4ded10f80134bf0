// The real aspire server process: agent endpoints (register, status), tasks by AgentSN, host
// offline after 3 missed steps, and the envelope on every error. Agents are simulated with
// real HTTP requests here; server-boot.test.ts runs real boot processes.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiStatus, EMPTY_POLICY_HASH, ErrorCode } from '@aspire/protocol';
import { startAspire, waitUntil, type AspireHandle } from '@aspire/testing';

let srv: AspireHandle;

beforeAll(async () => {
  srv = await startAspire();
});
afterAll(async () => {
  await srv?.stop();
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

async function register(agentsn: string, hostname: string, extra: Record<string, string> = {}) {
  return post('/agent/register', { hostname, agentsn }, { 'x-aspire-enroll': srv.enrollSecret, ...extra });
}

/** POST with node:http: the server answers 413 before reading the body and closes, so
 * the client may hit EPIPE while still writing; the answer is what matters. */
function rawPost(path: string, body: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${srv.url}${path}`,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', (err) => setTimeout(() => reject(err), 2000));
    req.end(body);
  });
}

function statusBody(agentsn: string, over: Record<string, unknown> = {}) {
  return {
    hostname: `host-${agentsn}`,
    agentsn,
    version: '1.0.0',
    uptime: 5,
    timestamp: Math.floor(Date.now() / 1000),
    step: 1,
    agents: [{ name: 'BasicAgent', version: '1.2.3', status: 'running', uptime: 4 }],
    jobs: [],
    events: [],
    os: 'linux',
    arch: 'x86_64',
    ...over,
  };
}

describe('aspire server: agent endpoints', () => {
  it('registration needs the enrollment secret and answers the envelope', async () => {
    const none = await post('/agent/register', { hostname: 'h', agentsn: 'sn-noenroll' });
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ status: ApiStatus.UNAUTHORIZED, message: 'unauthorized' });
    expect(none.body.cause).toMatch(/x-aspire-enroll/);
    const wrong = await register('sn-noenroll', 'h', { 'x-aspire-enroll': 'wrong-secret' });
    expect(wrong.status).toBe(401);
    const host = await srv.api('GET', '/api/v1/server/agent?agentsn=sn-noenroll');
    expect(host.status).toBe(404);
  });

  it('a conflicting AgentSN from another host gets a fresh one; the same host keeps its own', async () => {
    const a = await register('sn-conflict', 'host-a');
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ status: 0, agentsn: 'sn-conflict' });
    expect(a.body.credential).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    // host-a pushes: it is now a known, trusted host.
    expect(
      (
        await post('/agent/status', statusBody('sn-conflict', { hostname: 'host-a' }), {
          'x-aspire-credential': a.body.credential,
        })
      ).status,
    ).toBe(200);
    const b = await register('sn-conflict', 'host-b');
    expect(b.status).toBe(200);
    expect(b.body.agentsn).not.toBe('sn-conflict');
    expect(b.body.credential).not.toBe(a.body.credential);
    // host-a re-registering with its credential keeps its AgentSN.
    const again = await register('sn-conflict', 'host-a', { 'x-aspire-credential': a.body.credential });
    expect(again.body.agentsn).toBe('sn-conflict');
  });

  it('status upserts the host with the socket ip, stores events once, and needs the credential', async () => {
    const r = await register('sn-status', 'h-status');
    const cred = r.body.credential as string;
    const ev = { localid: 1, occurred: 1_700_000_000, kind: 'started', agent: 'BasicAgent', message: 'started pid 42' };
    const body = statusBody('sn-status', { hostname: 'h-status', events: [ev], tags: 'svc=ecs, cmpt=DB' });
    const unauth = await post('/agent/status', body);
    expect(unauth.status).toBe(401);
    const bad = await post('/agent/status', body, { 'x-aspire-credential': 'not-the-credential' });
    expect(bad.status).toBe(401);
    expect((await srv.api('GET', '/api/v1/server/agent?agentsn=sn-status')).body.host.status).toBe('registered');
    for (let i = 0; i < 2; i++) {
      const ok = await post('/agent/status', body, { 'x-aspire-credential': cred });
      expect(ok.status).toBe(200);
      // The reply announces the server's signing key (no rotation under way: no next key) and the
      // host's desired-state policy hash (none applies: the empty policy's).
      expect(ok.body).toEqual({
        status: 0,
        message: 'success',
        jobs: [],
        signingKey: srv.signingKey,
        policy: { hash: EMPTY_POLICY_HASH },
      });
    }
    const host = (await srv.api('GET', '/api/v1/server/agent?agentsn=sn-status')).body.host;
    expect(host).toMatchObject({
      agentsn: 'sn-status',
      hostname: 'h-status',
      ipaddr: '127.0.0.1',
      status: 'online',
      os: 'linux',
      arch: 'x86_64',
      curvers: '1.0.0',
      step: 1,
      reported_tags: 'svc=ecs,cmpt=DB',
    });
    expect(host.agents).toEqual([{ name: 'BasicAgent', version: '1.2.3', status: 'running', uptime: 4 }]);
    expect(host.credential_hash).toBeUndefined();
    const events = await srv.api('GET', '/api/v1/server/event?agentsn=sn-status');
    expect(events.body.count).toBe(1);
    expect(events.body.events[0]).toMatchObject({
      localid: 1,
      occurred: 1_700_000_000,
      kind: 'started',
      message: 'started pid 42',
    });
  });

  it('eventsDropped of a push is counted on the host and shown as a server event', async () => {
    const r = await register('sn-drops', 'h-drops');
    const cred = { 'x-aspire-credential': r.body.credential as string };
    const fresh = (await srv.api('GET', '/api/v1/server/agent?agentsn=sn-drops')).body.host;
    expect(fresh).toMatchObject({ events_dropped: 0, events_dropped_at: null });
    const before = Date.now();
    expect(
      (await post('/agent/status', statusBody('sn-drops', { hostname: 'h-drops', eventsDropped: 5 }), cred)).status,
    ).toBe(200);
    const host = (await srv.api('GET', '/api/v1/server/agent?agentsn=sn-drops')).body.host;
    expect(host.events_dropped).toBe(5);
    // Times are ISO 8601 UTC strings (issue 13 item 8).
    expect(Date.parse(host.events_dropped_at)).toBeGreaterThanOrEqual(before - 999);
    expect(Date.parse(host.events_dropped_at)).toBeLessThanOrEqual(Date.now());
    const listed = (await srv.api('GET', '/api/v1/server/host?hostname=h-drops')).body.hosts;
    expect(listed).toMatchObject([
      { agentsn: 'sn-drops', events_dropped: 5, events_dropped_at: host.events_dropped_at },
    ]);
    const events = (await srv.api('GET', '/api/v1/server/event?agentsn=sn-drops&kind=events_dropped')).body;
    expect(events.count).toBe(1);
    expect(events.events[0]).toMatchObject({ category: 0, kind: 'events_dropped', data: { dropped: 5, total: 5 } });
    expect(events.events[0].message).toMatch(/dropped 5 events/);

    // A later push in the same second adds up and gets its own event; pushes without drops change neither.
    expect(
      (await post('/agent/status', statusBody('sn-drops', { hostname: 'h-drops', eventsDropped: 2 }), cred)).status,
    ).toBe(200);
    expect(
      (await post('/agent/status', statusBody('sn-drops', { hostname: 'h-drops', eventsDropped: 0 }), cred)).status,
    ).toBe(200);
    expect((await post('/agent/status', statusBody('sn-drops', { hostname: 'h-drops' }), cred)).status).toBe(200);
    expect((await srv.api('GET', '/api/v1/server/agent?agentsn=sn-drops')).body.host.events_dropped).toBe(7);
    const all = (await srv.api('GET', '/api/v1/server/event?agentsn=sn-drops&kind=events_dropped&sortby=id&order=asc'))
      .body;
    expect(all.events.map((e: any) => e.data)).toEqual([
      { dropped: 5, total: 5 },
      { dropped: 2, total: 7 },
    ]);

    // A negative or non-integer count is refused and changes nothing.
    for (const bad of [-1, 1.5, 'many']) {
      const res = await post(
        '/agent/status',
        statusBody('sn-drops', { hostname: 'h-drops', eventsDropped: bad }),
        cred,
      );
      expect(res.status, String(bad)).toBe(400);
    }
    expect((await srv.api('GET', '/api/v1/server/agent?agentsn=sn-drops')).body.host.events_dropped).toBe(7);
  });

  it('a task by AgentSN is delivered in the next status reply and the reported result recorded', async () => {
    const r = await register('sn-task', 'h-task');
    const cred = { 'x-aspire-credential': r.body.credential as string };
    await post('/agent/status', statusBody('sn-task'), cred);
    // An unknown AgentSN is recorded FAILED only with allow_unknown (else the task is a 400).
    const created = await srv.api('POST', '/api/v1/server/task', {
      command: 'config',
      agents: ['sn-task', 'sn-unknown'],
      parameters: { step: 7 },
      allow_unknown: true,
    });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      status: 0,
      message: 'success',
      results: [{ AgentSN: 'sn-task' }, { AgentSN: 'sn-unknown', errcode: ErrorCode.TASK_HOST_UNKNOWN }],
    });
    const id = created.body.id as number;
    const reply = await post('/agent/status', statusBody('sn-task'), cred);
    expect(reply.body.jobs).toHaveLength(1);
    const job = reply.body.jobs[0];
    expect(job).toMatchObject({ action: 'config', step: 7 });
    let t = (await srv.api('GET', `/api/v1/server/task?id=${id}`)).body;
    expect(t.subtasks.find((s: any) => s.agentsn === 'sn-task')).toMatchObject({ state: 'RESERVED', jobid: job.id });
    // A job is delivered once: the next push (without the result yet) carries no job.
    expect((await post('/agent/status', statusBody('sn-task'), cred)).body.jobs).toEqual([]);
    await post(
      '/agent/status',
      statusBody('sn-task', { jobs: [{ id: job.id, errcode: 0, message: 'step set to 7' }] }),
      cred,
    );
    // Re-sent result (at-least-once) changes nothing.
    await post(
      '/agent/status',
      statusBody('sn-task', { jobs: [{ id: job.id, errcode: 0, message: 'step set to 7' }] }),
      cred,
    );
    t = (await srv.api('GET', `/api/v1/server/task?id=${id}`)).body;
    // The issuing operator is the token's name (startAspire creates it as "test").
    expect(t.task).toMatchObject({ count: 2, complete: 2, status: 'COMPLETE', user: 'test' });
    expect(t.subtasks.find((s: any) => s.agentsn === 'sn-task')).toMatchObject({
      state: 'SUCCESS',
      errcode: 0,
      message: 'step set to 7',
    });
    expect(t.subtasks.find((s: any) => s.agentsn === 'sn-unknown')).toMatchObject({
      state: 'FAILED',
      errcode: ErrorCode.TASK_HOST_UNKNOWN,
    });
    expect(t.states).toEqual({ SUCCESS: 1, FAILED: 1 });
    const failed = (await srv.api('GET', `/api/v1/server/task?id=${id}&state=FAILED`)).body;
    expect(failed.subtasks.map((s: any) => s.agentsn)).toEqual(['sn-unknown']);
    expect((await srv.api('GET', `/api/v1/server/task?id=${id}&state=DONE`)).status).toBe(400);
  });

  it('a host that misses 3 steps goes offline', async () => {
    const r = await register('sn-offline', 'h-offline');
    await post('/agent/status', statusBody('sn-offline', { step: 1 }), { 'x-aspire-credential': r.body.credential });
    expect((await srv.api('GET', '/api/v1/server/agent?agentsn=sn-offline')).body.host.status).toBe('online');
    const host = await waitUntil(
      async () => {
        const h = (await srv.api('GET', '/api/v1/server/agent?agentsn=sn-offline')).body.host;
        return h.status === 'offline' ? h : undefined;
      },
      { timeoutMs: 15_000, what: 'host offline' },
    );
    // Times are ISO 8601 UTC strings (issue 13 item 8).
    expect(Date.now() - Date.parse(host.last_seen)).toBeGreaterThanOrEqual(3000);
  });
});

describe('aspire server: bad input answers the envelope and stores nothing', () => {
  it('malformed JSON, missing and wrong fields', async () => {
    const r = await register('sn-bad', 'h-bad');
    const cred = { 'x-aspire-credential': r.body.credential as string };
    const malformed = await post('/agent/status', '{"hostname": ', cred);
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ status: ApiStatus.BAD_REQUEST, message: 'bad request' });
    const missing = await post('/agent/status', { hostname: 'h-bad', agentsn: 'sn-bad' }, cred);
    expect(missing.status).toBe(400);
    expect(missing.body.cause).toMatch(/version|uptime|agents/);
    const wrong = await post(
      '/agent/status',
      statusBody('sn-bad', { agents: [{ name: 'X', version: '1', status: 'dancing', uptime: 1 }] }),
      cred,
    );
    expect(wrong.status).toBe(400);
    expect((await srv.api('GET', '/api/v1/server/agent?agentsn=sn-bad')).body.host).toMatchObject({
      status: 'registered',
      agents: [],
    });
    const reg = await post('/agent/register', { hostname: '' }, { 'x-aspire-enroll': srv.enrollSecret });
    expect(reg.status).toBe(400);
    const task = await srv.api('POST', '/api/v1/server/task', {
      command: 'install',
      agents: ['sn-bad'],
      parameters: { name: 'x y' },
    });
    expect(task.status).toBe(400);
    expect(task.body.status).toBe(ApiStatus.BAD_REQUEST);
    const nocmd = await srv.api('POST', '/api/v1/server/task', { agents: ['sn-bad'] });
    expect(nocmd.status).toBe(400);
    const unknownField = await srv.api('POST', '/api/v1/server/task', {
      command: 'config',
      agents: ['sn-bad'],
      parameters: { step: 1 },
      urgency: 1,
    });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.cause).toMatch(/additional/);
    expect((await srv.api('GET', '/api/v1/server/task')).body.tasks.every((t: any) => t.command !== 'install')).toBe(
      true,
    );
  });

  it('a 10 MB body is refused with 413', async () => {
    const big = JSON.stringify(statusBody('sn-big', { hostname: 'x'.repeat(10 * 1024 * 1024) }));
    const res = await rawPost('/agent/status', big);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ status: ApiStatus.PAYLOAD_TOO_LARGE });
    // The server keeps serving.
    expect((await srv.api('GET', '/api/v1/server/host')).status).toBe(200);
  });

  it('unknown routes, wrong content types and unknown sortby', async () => {
    const nf = await srv.api('GET', '/no/such/route');
    expect(nf.status).toBe(404);
    expect(nf.body).toMatchObject({ status: ApiStatus.NOT_FOUND, message: 'not found' });
    const ct = await post('/agent/status', '<status/>', { 'content-type': 'application/xml' });
    expect(ct.status).toBe(415);
    expect(ct.body.status).toBe(ApiStatus.UNSUPPORTED_MEDIA_TYPE);
    for (const path of [
      '/api/v1/server/host',
      '/api/v1/server/task',
      '/api/v1/server/package',
      '/api/v1/server/tag',
      '/api/v1/server/event',
    ]) {
      const res = await srv.api('GET', `${path}?sortby=hostname;DROP TABLE hosts`);
      expect(res.status, path).toBe(400);
      expect(res.body.cause).toMatch(/sortby/);
    }
    expect((await srv.api('GET', '/api/v1/server/host?sortby=hostname&order=desc')).status).toBe(200);
  });
});
