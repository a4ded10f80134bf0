// The task engine of design.md §5 on the SQLite store, driven by a ManualClock: delay, batch,
// retry, ttl expiry, revoke, ttr requeue/bury, tag windows. No network, no real time.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, type JobResult } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite-store.ts';
import { MIGRATIONS } from '../src/store/migrations.ts';
import type { TaskSpec } from '../src/store/store.ts';
import { decideResult, parseTags, tagsMatch } from '../src/tasks/state-machine.ts';

let store: SqliteStore;
let clock: ManualClock;

beforeEach(() => {
  store = openSqliteStore(':memory:');
  clock = new ManualClock(Date.UTC(2026, 0, 1));
});
afterEach(() => store.close());

async function host(sn: string, tags = ''): Promise<void> {
  await store.register({
    agentsn: sn,
    hostname: sn,
    ip: '127.0.0.1',
    newHash: `h-${sn}`,
    freshAgentsn: `fresh-${sn}`,
    now: clock.now(),
  });
  await push(sn, [], tags);
}

async function push(sn: string, jobs: JobResult[] = [], tags = '') {
  return store.ingestStatus({
    agentsn: sn,
    hostname: sn,
    ip: '127.0.0.1',
    version: '1',
    os: 'linux',
    arch: 'x86_64',
    uptime: 1,
    step: 1,
    agents: [],
    jobs,
    events: [],
    tags,
    now: clock.now(),
  });
}

function spec(over: Partial<TaskSpec>): TaskSpec {
  return {
    command: 'config',
    parameters: { step: 5 },
    delayMs: 0,
    batch: 0,
    retryCount: 0,
    retryIntervalMs: 0,
    ttlMs: 0,
    ttrMs: 60_000,
    ...over,
  };
}

async function states(id: number): Promise<Record<string, string>> {
  const t = (await store.getTask(id))!;
  return Object.fromEntries(t.subtasks.map((s) => [s.agentsn, s.state]));
}

describe('state machine rules', () => {
  it('decideResult: success, retry, exhausted, no retry', () => {
    expect(decideResult(1, { retryCount: 2, retryIntervalMs: 0 }, 0, 'ok', 100).state).toBe('SUCCESS');
    expect(decideResult(1, { retryCount: 2, retryIntervalMs: 0 }, 7, 'x', 100)).toMatchObject({ state: 'READY' });
    expect(decideResult(2, { retryCount: 2, retryIntervalMs: 50 }, 7, 'x', 100)).toMatchObject({
      state: 'DELAYED',
      readyAt: 150,
    });
    // Issue 13: retries exhausted go to BURIED (the design's diagram); a kick revives, the buried ttl fails it.
    expect(decideResult(3, { retryCount: 2, retryIntervalMs: 50 }, 7, 'x', 100)).toMatchObject({
      state: 'BURIED',
      errcode: ErrorCode.TASK_RETRIES_EXHAUSTED,
    });
    expect(decideResult(1, { retryCount: 0, retryIntervalMs: 0 }, 7, 'x', 100)).toMatchObject({
      state: 'FAILED',
      errcode: 7,
      message: 'x',
    });
  });

  it('tags parse and match', () => {
    expect(parseTags(' svc = ecs ,cmpt=DB,,')).toEqual(['svc=ecs', 'cmpt=DB']);
    expect(tagsMatch(['svc=ecs'], new Set(['svc=ecs', 'cmpt=DB']))).toBe(true);
    expect(tagsMatch(['svc=ecs', 'x=y'], new Set(['svc=ecs']))).toBe(false);
    expect(tagsMatch([], new Set(['svc=ecs']))).toBe(false);
  });
});

describe('task engine on a ManualClock', () => {
  it('delay: DELAYED until its time, then READY and delivered', async () => {
    await host('a');
    const { id } = await store.createTask(spec({ agents: ['a'], delayMs: 10_000 }), clock.now());
    expect(await states(id)).toEqual({ a: 'DELAYED' });
    expect((await push('a')).reserved).toEqual([]);
    await clock.advance(10_000);
    await store.tick(clock.now());
    expect(await states(id)).toEqual({ a: 'READY' });
    expect((await push('a')).reserved).toHaveLength(1);
    expect(await states(id)).toEqual({ a: 'RESERVED' });
  });

  it('batch 1 over three hosts runs them one after another', async () => {
    for (const h of ['a', 'b', 'c']) await host(h);
    const { id } = await store.createTask(spec({ agents: ['a', 'b', 'c'], batch: 1 }), clock.now());
    expect(await states(id)).toEqual({ a: 'READY', b: 'PENDING', c: 'PENDING' });
    expect((await push('b')).reserved).toEqual([]);
    const ja = (await push('a')).reserved[0]!;
    await push('a', [{ id: ja.jobid, errcode: 0, message: 'ok' }]);
    expect(await states(id)).toEqual({ a: 'SUCCESS', b: 'READY', c: 'PENDING' });
    const jb = (await push('b')).reserved[0]!;
    await push('b', [{ id: jb.jobid, errcode: 0, message: 'ok' }]);
    const jc = (await push('c')).reserved[0]!;
    await push('c', [{ id: jc.jobid, errcode: 0, message: 'ok' }]);
    const t = (await store.getTask(id))!;
    expect(t.task).toMatchObject({ count: 3, complete: 3, status: 'COMPLETE' });
    // Strictly one after another.
    const order = t.subtasks.map((s) => s.reserved_at!);
    expect(order[0]! <= order[1]! && order[1]! <= order[2]!).toBe(true);
  });

  it('retry 2 with an interval: three attempts with fresh job ids, then BURIED (issue 13: was FAILED)', async () => {
    await host('a');
    const { id } = await store.createTask(spec({ agents: ['a'], retryCount: 2, retryIntervalMs: 5000 }), clock.now());
    const ids: string[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const j = (await push('a')).reserved[0]!;
      ids.push(j.jobid);
      await push('a', [{ id: j.jobid, errcode: ErrorCode.JOB_INSTALL_FAILED, message: `attempt ${attempt} failed` }]);
      if (attempt < 3) {
        expect(await states(id)).toEqual({ a: 'DELAYED' });
        expect((await push('a')).reserved).toEqual([]);
        await clock.advance(5000);
        await store.tick(clock.now());
      }
    }
    expect(new Set(ids).size).toBe(3);
    const s = (await store.getTask(id))!.subtasks[0]!;
    expect(s).toMatchObject({ state: 'BURIED', attempts: 3, errcode: ErrorCode.TASK_RETRIES_EXHAUSTED });
    expect(s.message).toMatch(/attempt 3 failed/);
    // A late result of an older attempt changes nothing.
    await push('a', [{ id: ids[0]!, errcode: 0, message: 'late' }]);
    expect((await store.getTask(id))!.subtasks[0]!.state).toBe('BURIED');
  });

  it('ttl: what has not started by then is FAILED with TASK_EXPIRED; what started is not', async () => {
    await host('a');
    await host('b');
    const { id } = await store.createTask(spec({ agents: ['a', 'b'], ttlMs: 30_000 }), clock.now());
    const ja = (await push('a')).reserved[0]!;
    await clock.advance(30_000);
    await store.tick(clock.now());
    expect(await states(id)).toEqual({ a: 'RESERVED', b: 'FAILED' });
    expect((await store.getTask(id))!.subtasks.find((s) => s.agentsn === 'b')!.errcode).toBe(ErrorCode.TASK_EXPIRED);
    expect((await push('b')).reserved).toEqual([]);
    await push('a', [{ id: ja.jobid, errcode: 0, message: 'ok' }]);
    expect((await store.getTask(id))!.task).toMatchObject({ complete: 2, status: 'COMPLETE' });
  });

  it('revoke: everything but RESERVED becomes REVOKED; the reserved result is still recorded', async () => {
    for (const h of ['a', 'b', 'c']) await host(h);
    const { id } = await store.createTask(spec({ agents: ['a', 'b', 'c'], batch: 2 }), clock.now());
    const ja = (await push('a')).reserved[0]!;
    expect(await states(id)).toEqual({ a: 'RESERVED', b: 'READY', c: 'PENDING' });
    const r = await store.revokeTask(id, clock.now());
    expect(r).toMatchObject({ ok: true, value: { revoked: 2 } });
    expect(await states(id)).toEqual({ a: 'RESERVED', b: 'REVOKED', c: 'REVOKED' });
    expect((await push('b')).reserved).toEqual([]);
    await push('a', [{ id: ja.jobid, errcode: 0, message: 'ok' }]);
    expect(await states(id)).toEqual({ a: 'SUCCESS', b: 'REVOKED', c: 'REVOKED' });
    expect((await store.getTask(id))!.task).toMatchObject({ status: 'REVOKED', complete: 3 });
    expect((await store.revokeTask(999, clock.now())).ok).toBe(false);
  });

  it('ttr: a RESERVED subtask nobody reports goes back to READY with the same job id, then BURIED; kick revives it', async () => {
    await host('a');
    const { id } = await store.createTask(spec({ agents: ['a'], ttrMs: 10_000 }), clock.now());
    const first = (await push('a')).reserved[0]!;
    for (let i = 1; i <= 2; i++) {
      await clock.advance(10_000);
      expect(await store.tick(clock.now())).toMatchObject({ requeued: 1 });
      expect(await states(id)).toEqual({ a: 'READY' });
      const again = (await push('a')).reserved[0]!;
      expect(again.jobid).toBe(first.jobid);
    }
    await clock.advance(10_000);
    expect(await store.tick(clock.now())).toMatchObject({ buried: 1 });
    expect(await states(id)).toEqual({ a: 'BURIED' });
    expect(await store.kickTask(id, clock.now())).toMatchObject({ ok: true, value: { kicked: 1 } });
    const revived = (await push('a')).reserved[0]!;
    await push('a', [{ id: revived.jobid, errcode: 0, message: 'ok' }]);
    expect((await store.getTask(id))!.subtasks[0]).toMatchObject({ state: 'SUCCESS', attempts: 1 });
  });

  it('tag task: matching hosts inside the window get the job once; others and later pushes do not', async () => {
    await host('in', 'svc=ecs,cmpt=DB');
    await host('other', 'svc=rds');
    const start = clock.now() + 5000;
    const { id } = await store.createTask(
      spec({ tags: 'svc=ecs', windowStart: start, windowEnd: start + 20_000 }),
      clock.now(),
    );
    expect((await push('in', [], 'svc=ecs,cmpt=DB')).reserved).toEqual([]); // before the window
    await clock.advance(5000);
    const j = (await push('in', [], 'svc=ecs,cmpt=DB')).reserved;
    expect(j).toHaveLength(1);
    expect((await push('other', [], 'svc=rds')).reserved).toEqual([]);
    await push('in', [{ id: j[0]!.jobid, errcode: 0, message: 'ok' }], 'svc=ecs,cmpt=DB');
    expect((await push('in', [], 'svc=ecs,cmpt=DB')).reserved).toEqual([]); // once
    await clock.advance(20_001);
    await host('late', 'svc=ecs');
    expect((await push('late', [], 'svc=ecs')).reserved).toEqual([]); // after the window
    await store.tick(clock.now());
    expect((await store.getTask(id))!.task).toMatchObject({ count: 1, complete: 1, status: 'COMPLETE' });
  });

  it('events are stored once per (agentsn, localid, occurred)', async () => {
    await host('a');
    const ev = { localid: 3, occurred: 1000, kind: 'strike' as const, message: 'exit 1' };
    for (let i = 0; i < 3; i++) {
      await store.ingestStatus({
        agentsn: 'a',
        hostname: 'a',
        ip: '1',
        version: '1',
        os: 'linux',
        arch: 'x86_64',
        uptime: 1,
        step: 1,
        agents: [],
        jobs: [],
        events: [ev],
        now: clock.now(),
      });
    }
    const page = await store.listEvents({ agentsn: 'a' }, { offset: 0, limit: 10, order: 'asc', sortby: 'id' });
    expect(page.count).toBe(1);
    // Retention: events are deleted by arrival time.
    expect(await store.pruneEvents(clock.now())).toBe(0);
    expect(await store.pruneEvents(clock.now() + 1)).toBe(1);
    expect((await store.listEvents({ agentsn: 'a' }, { offset: 0, limit: 10, order: 'asc', sortby: 'id' })).count).toBe(
      0,
    );
  });

  it('hosts go offline after the missed steps', async () => {
    await host('a');
    await clock.advance(2999);
    expect(await store.markOffline(clock.now(), 3)).toBe(0);
    await clock.advance(2);
    expect(await store.markOffline(clock.now(), 3)).toBe(1);
    expect((await store.getHost('a'))!.status).toBe('offline');
  });

  it('quiet pushes (nothing new) still move last_seen and uptime, and status transitions still happen', async () => {
    await host('q');
    const t0 = clock.now();
    await clock.advance(1000);
    await store.ingestStatus({
      agentsn: 'q',
      hostname: 'q',
      ip: '127.0.0.1',
      version: '1',
      os: 'linux',
      arch: 'x86_64',
      uptime: 99,
      step: 1,
      agents: [],
      jobs: [],
      events: [],
      tags: '',
      now: clock.now(),
    });
    expect(await store.getHost('q')).toMatchObject({ last_seen: t0 + 1000, uptime: 99, status: 'online' });
    await clock.advance(3001);
    expect(await store.markOffline(clock.now(), 3)).toBe(1);
    await push('q');
    expect((await store.getHost('q'))!.status).toBe('online');
    // A changed field is written at once.
    await store.ingestStatus({
      agentsn: 'q',
      hostname: 'q2',
      ip: '127.0.0.1',
      version: '2',
      os: 'linux',
      arch: 'x86_64',
      uptime: 5,
      step: 1,
      agents: [],
      jobs: [],
      events: [],
      tags: '',
      now: clock.now(),
    });
    expect(await store.getHost('q')).toMatchObject({ hostname: 'q2', curvers: '2', prevers: '1' });
    // A job for a quiet host is still handed out on its next push.
    const { id } = await store.createTask(spec({ agents: ['q'] }), clock.now());
    await store
      .ingestStatus({
        agentsn: 'q',
        hostname: 'q2',
        ip: '127.0.0.1',
        version: '2',
        os: 'linux',
        arch: 'x86_64',
        uptime: 6,
        step: 1,
        agents: [],
        jobs: [],
        events: [],
        tags: '',
        now: clock.now(),
      })
      .then((o) => expect(o.reserved).toHaveLength(1));
    expect(await states(id)).toEqual({ q: 'RESERVED' });
    // A tag task opened while the host pushes quietly still reaches it.
    const quiet = {
      agentsn: 'q',
      hostname: 'q2',
      ip: '127.0.0.1',
      version: '2',
      os: 'linux',
      arch: 'x86_64',
      uptime: 7,
      step: 1,
      agents: [],
      jobs: [],
      events: [],
      tags: 'svc=ecs',
      now: clock.now(),
    };
    await store.ingestStatus(quiet); // written with its tags; from now on identical pushes are quiet
    expect((await store.ingestStatus({ ...quiet, uptime: 8 })).reserved).toEqual([]);
    const tagged = await store.createTask(spec({ tags: 'svc=ecs' }), clock.now());
    expect((await store.ingestStatus({ ...quiet, uptime: 9 })).reserved.map((r) => r.taskid)).toEqual([tagged.id]);
    expect((await store.ingestStatus({ ...quiet, uptime: 10 })).reserved).toEqual([]);
  });

  it('migrations are versioned and applied once', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(MIGRATIONS.map((m) => m.name.slice(0, 3))).toEqual(MIGRATIONS.map((_, i) => String(i + 1).padStart(3, '0')));
    expect(store.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
  });
});
