import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@aspire/agent-core';
import type { Validator } from '@aspire/protocol';
import { createSigner, generateSigningKeyPem } from '@aspire/protocol';
import { ManualClock, realIoSettled } from '@aspire/testing';
import { describe, expect, it } from 'vitest';
import { createBootAgent } from '../src/boot-agent.ts';
import type { EventSink } from '../src/contracts.ts';
import { checkBootConfig } from '../src/config/boot-config.ts';
import type { Transport } from '../src/net/http-transport.ts';
import { rotateFor } from '../src/net/server-choice.ts';
import type { Outcome } from '../src/net/outcome.ts';
import { readMeta } from '../src/state/meta-store.ts';

interface Call {
  server: string;
  path: string;
  body: Record<string, unknown>;
  headers: Record<string, string>;
  at: number;
}

/** A transport whose answers the test scripts (unit layer: the real one is covered by integration tests). */
function fakeTransport(clock: ManualClock, answer: (c: Call) => Outcome<unknown>): Transport & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    async post<T>(
      server: string,
      path: string,
      body: unknown,
      headers: Record<string, string>,
      check: Validator<T>,
    ): Promise<Outcome<T>> {
      const c: Call = {
        server,
        path,
        body: structuredClone(body) as Record<string, unknown>,
        headers,
        at: clock.now(),
      };
      calls.push(c);
      const o = answer(c);
      if (o.kind === 'ok' && !check.check(o.value))
        throw new Error(`test answered an invalid body ${JSON.stringify(o.value)}`);
      return o as Outcome<T>;
    },
    close: async () => undefined,
  };
}

/**
 * Advance the manual clock in small steps until cond holds. State files are real: before each
 * step every file write in flight finishes, so the fake clock never moves during real I/O (what
 * the agent measures on the clock does not depend on the machine's load).
 */
async function advanceUntil(clock: ManualClock, cond: () => boolean, stepMs = 100, maxMs = 600_000): Promise<void> {
  for (let t = 0; t < maxMs; t += stepMs) {
    await realIoSettled();
    if (cond()) return;
    await clock.advance(stepMs);
  }
  throw new Error('condition not reached');
}

const ok = (value: unknown): Outcome<unknown> => ({ kind: 'ok', status: 200, value });
const down = (server: string): Outcome<unknown> => ({ kind: 'retry', reason: `${server}: connect ECONNREFUSED` });
/** The fake server's signing key: its register replies announce it, its jobs are signed with it (docs/security.md). */
const serverKey = createSigner(generateSigningKeyPem());
const signed = (clock: ManualClock, agentsn: string, jobs: Record<string, unknown>[]) =>
  jobs.map((j) => serverKey.sign('job', j, agentsn, clock.now() + 600_000));

function boot(stateDir: string, clock: ManualClock, transport: Transport, serverFlag?: string) {
  const { config } = checkBootConfig({ step: 10, enrollSecret: 's3cret' }, 'test');
  return createBootAgent({
    config,
    stateDir,
    clock,
    logger: silentLogger(),
    transport,
    buildServers: 'build.invalid:1',
    ...(serverFlag ? { serverFlag } : {}),
  });
}

describe('createBootAgent (fake transport, ManualClock)', () => {
  it('first start: registers with backoff until a server answers, adopts its agentsn, trusts it after the first push', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const dir = mkdtempSync(join(tmpdir(), 'boot-agent-'));
    let serverUp = false;
    const t = fakeTransport(clock, (c) => {
      if (c.server !== 'http://127.0.0.1:2' || !serverUp) return down(c.server);
      if (c.path === '/agent/register')
        return ok({ status: 0, agentsn: 'server-chosen', credential: 'cred-1', tags: 'svc=ecs' });
      return ok({ status: 0, jobs: [] });
    });
    const ac = new AbortController();
    const agent = boot(dir, clock, t, '127.0.0.1:1,127.0.0.1:2');
    const done = agent.run(ac.signal);
    await advanceUntil(clock, () => t.calls.length >= 9);
    expect(agent.state).toBe('registering');
    const proposed = t.calls[0]!.body.agentsn as string;
    expect(proposed).toMatch(/^[0-9a-f-]{36}$/);
    // Every server of the list, sources in order: build-time, then -S (within a source, from the
    // proposed agentsn's place: net/server-choice.ts).
    expect(t.calls.slice(0, 3).map((c) => c.server)).toEqual([
      'http://build.invalid:1',
      ...rotateFor(['http://127.0.0.1:1', 'http://127.0.0.1:2'], proposed),
    ]);
    expect(t.calls[0]!.headers['x-aspire-enroll']).toBe('s3cret');
    // Rounds are spaced by a growing backoff.
    const rounds = t.calls.filter((c) => c.server === 'http://build.invalid:1').map((c) => c.at);
    expect(rounds[2]! - rounds[1]!).toBeGreaterThanOrEqual(rounds[1]! - rounds[0]!);
    expect(readMeta(dir).kind).toBe('missing');

    serverUp = true;
    await advanceUntil(clock, () =>
      t.calls.some((c) => c.path === '/agent/status' && c.server === 'http://127.0.0.1:2'),
    );
    await advanceUntil(clock, () => {
      const m = readMeta(dir);
      return m.kind === 'ok' && m.meta.trusted;
    });
    const meta = readMeta(dir);
    expect(meta.kind === 'ok' && meta.meta).toMatchObject({
      agentsn: 'server-chosen',
      credential: 'cred-1',
      servers: ['127.0.0.1:1', '127.0.0.1:2'],
      step: 10,
      stepFrom: 'config',
      tags: 'svc=ecs',
      tagsFrom: 'server',
      trusted: true,
    });
    const push = t.calls.find((c) => c.path === '/agent/status')!;
    expect(push.headers['x-aspire-credential']).toBe('cred-1');
    expect(Object.keys(push.body).sort()).toEqual(
      [
        'agents',
        'agentsn',
        'arch',
        'events',
        'eventsDropped',
        'hostname',
        'jobs',
        'kernel',
        'os',
        'self',
        'step',
        'tags',
        'timestamp',
        'uptime',
        'version',
      ].sort(),
    );
    expect(push.body).toMatchObject({ agentsn: 'server-chosen', step: 10, agents: [], jobs: [], tags: 'svc=ecs' });
    expect(push.body.version).toMatch(/^bootagent-.+-(x86_64|aarch64|.+)$/);
    ac.abort();
    await done;
    expect(agent.state).toBe('stopped');
  });

  it('job results are re-sent in every push until one carrying them is answered 2xx; -S is ignored after the first start', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const dir = mkdtempSync(join(tmpdir(), 'boot-agent-'));
    let mode: 'job' | 'down' | 'up' = 'job';
    const t = fakeTransport(clock, (c) => {
      if (c.server !== 'http://127.0.0.1:2') return down(c.server);
      if (c.path === '/agent/register')
        return ok({ status: 0, agentsn: c.body.agentsn, credential: 'c', signingKey: serverKey.publicKey });
      if (mode === 'job') {
        mode = 'down';
        return ok({
          status: 0,
          jobs: signed(clock, c.body.agentsn as string, [
            { id: 'job-1', action: 'config', step: 20 },
            { id: 'job-2', action: 'fly' },
          ]),
        });
      }
      if (mode === 'down') return { kind: 'retry', reason: 'HTTP 503', retryAfterMs: 2000 };
      return ok({ status: 0 });
    });
    const ac = new AbortController();
    const done = boot(dir, clock, t, '127.0.0.1:2').run(ac.signal);
    const pushesWithResults = () =>
      t.calls.filter((c) => c.path === '/agent/status' && (c.body.jobs as unknown[]).length === 2);
    await advanceUntil(clock, () => pushesWithResults().length >= 3);
    const jobs = pushesWithResults()[0]!.body.jobs as { id: string; errcode: number }[];
    expect(jobs.map((j) => [j.id, j.errcode])).toEqual([
      ['job-1', 0],
      ['job-2', 0x0201],
    ]);
    expect(pushesWithResults()[0]!.body.step).toBe(20);
    mode = 'up';
    const before = t.calls.length;
    await advanceUntil(
      clock,
      () =>
        t.calls.filter((c, i) => i >= before && c.path === '/agent/status' && c.server === 'http://127.0.0.1:2')
          .length >= 2,
    );
    const after = t.calls.filter(
      (c, i) => i >= before && c.path === '/agent/status' && c.server === 'http://127.0.0.1:2',
    );
    expect((after[0]!.body.jobs as unknown[]).length).toBe(2);
    expect((after[1]!.body.jobs as unknown[]).length).toBe(0);
    // The new step (20 s) paces the pushes once the server answers again.
    // (Measured from the end of the previous round; the clock stands still during its journal write.)
    expect(after[1]!.at - after[0]!.at).toBeGreaterThanOrEqual(20_000);
    expect(after[1]!.at - after[0]!.at).toBeLessThan(21_000);
    ac.abort();
    await done;

    // Restart with another -S: the metafile's list is kept, no registration.
    const t2 = fakeTransport(clock, (c) => (c.server === 'http://127.0.0.1:2' ? ok({ status: 0 }) : down(c.server)));
    const ac2 = new AbortController();
    const done2 = boot(dir, clock, t2, '127.0.0.1:9').run(ac2.signal);
    await advanceUntil(clock, () =>
      t2.calls.some((c) => c.path === '/agent/status' && c.server === 'http://127.0.0.1:2'),
    );
    expect(t2.calls.some((c) => c.path === '/agent/register' || c.server === 'http://127.0.0.1:9')).toBe(false);
    ac2.abort();
    await done2;
  });

  it('registers again after repeated 401s (the server lost this host), presenting the old credential', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const dir = mkdtempSync(join(tmpdir(), 'boot-agent-'));
    let known = true;
    let registrations = 0;
    const t = fakeTransport(clock, (c) => {
      if (c.server !== 'http://127.0.0.1:2') return down(c.server);
      if (c.path === '/agent/register') {
        registrations++;
        known = true;
        return ok({ status: 0, agentsn: registrations === 1 ? 'sn-1' : 'sn-2', credential: `cred-${registrations}` });
      }
      return known ? ok({ status: 0 }) : { kind: 'fatal', status: 401, reason: 'HTTP 401 from http://127.0.0.1:2' };
    });
    const ac = new AbortController();
    const done = boot(dir, clock, t, '127.0.0.1:2').run(ac.signal);
    await advanceUntil(clock, () => {
      const m = readMeta(dir);
      return m.kind === 'ok' && m.meta.trusted;
    });
    known = false;
    await advanceUntil(clock, () => registrations === 2);
    const again = t.calls.filter((c) => c.path === '/agent/register' && c.server === 'http://127.0.0.1:2')[1]!;
    expect(again.body.agentsn).toBe('sn-1');
    expect(again.headers['x-aspire-credential']).toBe('cred-1');
    // Exactly three refused rounds (each spaced by a full step: slow down on 4xx) before it.
    const refused = t.calls
      .filter((c) => c.path === '/agent/status' && c.server === 'http://127.0.0.1:2' && c.at > 0)
      .slice(-3);
    expect(refused[2]!.at - refused[1]!.at).toBeGreaterThanOrEqual(10_000);
    await advanceUntil(clock, () => {
      const m = readMeta(dir);
      return m.kind === 'ok' && m.meta.trusted && m.meta.agentsn === 'sn-2';
    });
    expect(readMeta(dir).kind === 'ok' && (readMeta(dir) as { meta: { credential?: string } }).meta.credential).toBe(
      'cred-2',
    );
    ac.abort();
    await done;
  });

  it('values from boot.json follow the file across restarts; values a config job set stay', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const dir = mkdtempSync(join(tmpdir(), 'boot-agent-'));
    const start = async (cfg: Record<string, unknown>, answer: (c: Call) => Outcome<unknown>) => {
      const t = fakeTransport(clock, answer);
      const { config } = checkBootConfig(cfg, 'test');
      const ac = new AbortController();
      const done = createBootAgent({
        config,
        stateDir: dir,
        clock,
        logger: silentLogger(),
        transport: t,
        buildServers: '',
        serverFlag: '127.0.0.1:2',
      }).run(ac.signal);
      await advanceUntil(clock, () => {
        const m = readMeta(dir);
        return m.kind === 'ok' && m.meta.trusted && t.calls.some((c) => c.path === '/agent/status');
      });
      return { t, stop: async () => (ac.abort(), await done) };
    };
    const plain = (c: Call) =>
      c.path === '/agent/register'
        ? ok({ status: 0, agentsn: 'sn', credential: 'c', signingKey: serverKey.publicKey })
        : ok({ status: 0 });
    const a = await start({ step: 10, tags: 'a=1' }, plain);
    await a.stop();
    expect(readMeta(dir)).toMatchObject({ meta: { step: 10, stepFrom: 'config', tags: 'a=1', tagsFrom: 'config' } });
    // The operator edits boot.json: the next start follows it.
    let delivered = false;
    const b = await start({ step: 20, tags: 'a=2' }, (c) => {
      if (c.path !== '/agent/status' || delivered) return plain(c);
      delivered = true;
      return ok({ status: 0, jobs: signed(clock, 'sn', [{ id: 'cfg', action: 'config', step: 30 }]) });
    });
    expect(b.t.calls.find((c) => c.path === '/agent/status')!.body).toMatchObject({ step: 20, tags: 'a=2' });
    await advanceUntil(
      clock,
      () => readMeta(dir).kind === 'ok' && (readMeta(dir) as { meta: { step: number } }).meta.step === 30,
    );
    await b.stop();
    // The server's step outlives a boot.json edit; boot.json's tags still follow the file.
    const c = await start({ step: 40, tags: 'a=3' }, plain);
    expect(c.t.calls.find((x) => x.path === '/agent/status')!.body).toMatchObject({ step: 30, tags: 'a=3' });
    await c.stop();
  });

  it('an urgent sub-agent event (fatal) is pushed early, not a whole step later', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const dir = mkdtempSync(join(tmpdir(), 'boot-agent-'));
    const t = fakeTransport(clock, (c) =>
      c.path === '/agent/register' ? ok({ status: 0, agentsn: 'sn', credential: 'c' }) : ok({ status: 0 }),
    );
    let sink: EventSink | undefined;
    const { config } = checkBootConfig({ step: 600 }, 'test');
    const ac = new AbortController();
    const done = createBootAgent({
      config,
      stateDir: dir,
      clock,
      logger: silentLogger(),
      transport: t,
      buildServers: '',
      serverFlag: '127.0.0.1:2',
      createManager: (d) => {
        sink = d.events;
        return {
          start: async () => undefined,
          stop: async () => undefined,
          reports: () => [],
          handleJob: async () => ({ errcode: 0, message: 'ok' }),
        };
      },
    }).run(ac.signal);
    const pushes = () => t.calls.filter((c) => c.path === '/agent/status');
    await advanceUntil(clock, () => pushes().length === 1);
    await realIoSettled();
    await clock.advance(5000);
    sink!.emit('strike', 'not urgent', { agent: 'A' });
    await realIoSettled();
    await clock.advance(5000);
    expect(pushes()).toHaveLength(1);
    sink!.emit('fatal', 'gave up after 3 strikes', { agent: 'A' });
    await advanceUntil(clock, () => pushes().length === 2, 10, 5000);
    const events = pushes()[1]!.body.events as { kind: string }[];
    expect(events.map((e) => e.kind)).toEqual(['strike', 'fatal']);
    ac.abort();
    await done;
  });
});
