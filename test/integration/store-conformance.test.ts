// One store conformance suite, run against both implementations of the Store seam: SQLite
// (a file in a temp dir) and PostgreSQL (a real server from Debian's postgresql package,
// started by startPostgres in a temp dir on a free loopback port; a fresh database per test).
// A missing PostgreSQL fails this suite: it is never skipped (scripts/setup.sh installs it).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import { startPostgres, type PostgresHandle } from '@aspire/testing';
import { MIGRATIONS } from '../../packages/server/src/store/migrations.ts';
import { PG_MIGRATIONS } from '../../packages/server/src/store/postgres/migrations.ts';
import { parseDatabaseUrl } from '../../packages/server/src/store/postgres/connection.ts';
import { openPostgresStore } from '../../packages/server/src/store/postgres/pg-store.ts';
import { openSqliteStore } from '../../packages/server/src/store/sqlite-store.ts';
import type { Paging, StatusInput, Store } from '../../packages/server/src/store/store.ts';

let pg: PostgresHandle;
let work: string;
let dbSeq = 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-conformance-'));
  pg = await startPostgres();
}, 180_000);

afterAll(async () => {
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

type Opened = { store: Store; close(): Promise<void>; migrations(): Promise<number[]> };

const engines: { name: string; open(): Promise<Opened> }[] = [
  {
    name: 'sqlite',
    async open() {
      const s = openSqliteStore(join(work, `s${++dbSeq}.db`));
      return { store: s, close: async () => s.close(), migrations: async () => s.appliedMigrations() };
    },
  },
  {
    name: 'postgres',
    async open() {
      const name = `c${++dbSeq}`;
      await pg.createDatabase(name);
      const p = parseDatabaseUrl(pg.urlOf(name), { env: pg.password });
      if (!p.ok) throw new Error(p.problem);
      const s = await openPostgresStore(p.target.connection, { poolSize: 4 });
      return { store: s, close: () => s.close(), migrations: () => s.appliedMigrations() };
    },
  },
];

const page = (sortby = 'id', order: 'asc' | 'desc' = 'asc', limit = 50, offset = 0): Paging => ({
  sortby,
  order,
  limit,
  offset,
});

function status(agentsn: string, now: number, extra: Partial<StatusInput> = {}): StatusInput {
  return {
    agentsn,
    hostname: `host-${agentsn}`,
    ip: '127.0.0.1',
    version: '1.0.0',
    os: 'linux',
    arch: 'x86_64',
    uptime: 10,
    step: 1,
    agents: [{ name: 'BasicAgent', version: '1.0.0', status: 'running' } as never],
    jobs: [],
    events: [],
    now,
    ...extra,
  };
}

async function registered(store: Store, sn: string, now = 1000): Promise<void> {
  const r = await store.register({
    agentsn: sn,
    hostname: `host-${sn}`,
    ip: '127.0.0.1',
    newHash: `h-${sn}`,
    freshAgentsn: `${sn}-fresh`,
    now,
  });
  expect(r.agentsn).toBe(sn);
}

const taskSpec = (over: Record<string, unknown> = {}) => ({
  command: 'sync.bash',
  parameters: { cmd: 'true' },
  delayMs: 0,
  batch: 0,
  retryCount: 0,
  retryIntervalMs: 0,
  ttlMs: 0,
  ttrMs: 5000,
  ...over,
});

describe.each(engines)('store conformance: $name', (engine) => {
  let db: Opened;
  let store: Store;
  const fresh = async () => {
    await db?.close();
    db = await engine.open();
    store = db.store;
  };
  afterAll(async () => db?.close());

  it('applies every migration version; the PostgreSQL list mirrors every SQLite migration', async () => {
    await fresh();
    expect(await db.migrations()).toEqual(MIGRATIONS.map((m) => m.version));
    expect(PG_MIGRATIONS.map((m) => [m.version, m.name])).toEqual(MIGRATIONS.map((m) => [m.version, m.name]));
  });

  it('registration: new host, proven re-register, takeover refused, another hostname gets a fresh AgentSN, deleted stays deleted', async () => {
    await fresh();
    await registered(store, 'a1');
    expect(await store.credentialHash('a1')).toBe('h-a1');
    const again = await store.register({
      agentsn: 'a1',
      hostname: 'host-a1',
      ip: '10.0.0.1',
      presentedHash: 'h-a1',
      newHash: 'h2',
      freshAgentsn: 'x',
      now: 2000,
    });
    expect(again).toMatchObject({ agentsn: 'a1', conflict: false });
    expect(await store.credentialHash('a1')).toBe('h2');
    const takeover = await store.register({
      agentsn: 'a1',
      hostname: 'host-a1',
      ip: '10.0.0.2',
      newHash: 'h3',
      freshAgentsn: 'x',
      now: 3000,
    });
    expect(takeover.refused).toBe('takeover');
    const other = await store.register({
      agentsn: 'a1',
      hostname: 'other',
      ip: '10.0.0.3',
      newHash: 'h4',
      freshAgentsn: 'a1-new',
      now: 3000,
    });
    expect(other).toMatchObject({ agentsn: 'a1-new', conflict: true });
    expect(await store.hostIdentity('a1-new')).toEqual({
      hostname: 'other',
      status: 'registered',
      cert_sha256: null,
      prev_cert_sha256: null,
    });
    expect((await store.deleteHost('a1', 4000)).ok).toBe(true);
    expect(
      (
        await store.register({
          agentsn: 'a1',
          hostname: 'host-a1',
          ip: '1',
          presentedHash: 'h2',
          newHash: 'h5',
          freshAgentsn: 'y',
          now: 5000,
        })
      ).refused,
    ).toBe('deleted');
    expect((await store.resetHost('a1', 6000)).ok).toBe(true);
    expect(
      (
        await store.register({
          agentsn: 'a1',
          hostname: 'host-a1',
          ip: '1',
          newHash: 'h6',
          freshAgentsn: 'y',
          now: 7000,
        })
      ).refused,
    ).toBeUndefined();
    expect((await store.resetHost('nobody', 1)).ok).toBe(false);
  });

  it('host certificates: a registration records the only one, a renewal keeps the previous, a reset voids both; not in host answers', async () => {
    await fresh();
    await registered(store, 'c1');
    const certs = async () => {
      const id = (await store.hostIdentity('c1'))!;
      return [id.cert_sha256, id.prev_cert_sha256];
    };
    expect(await certs()).toEqual([null, null]);
    await store.recordHostCertificate('c1', 'f1', false);
    expect(await certs()).toEqual(['f1', null]);
    await store.recordHostCertificate('c1', 'f2', true);
    expect(await certs()).toEqual(['f2', 'f1']);
    await store.recordHostCertificate('c1', 'f3', true);
    expect(await certs()).toEqual(['f3', 'f2']);
    await store.recordHostCertificate('c1', 'f4', false);
    expect(await certs()).toEqual(['f4', null]);
    expect(Object.keys((await store.getHost('c1'))!)).not.toContain('cert_sha256');
    expect((await store.resetHost('c1', 2000)).ok).toBe(true);
    expect(await certs()).toEqual(['', null]);
  });

  it("status: a rename to another non-deleted host's hostname keeps the old one (refused event); a free or deleted host's hostname is taken", async () => {
    await fresh();
    await registered(store, 'n1');
    await registered(store, 'n2');
    await store.ingestStatus(status('n1', 10_000, { hostname: 'host-n2' }));
    expect((await store.getHost('n1'))!.hostname).toBe('host-n1');
    expect((await store.getHost('n2'))!.hostname).toBe('host-n2');
    const refused = (await store.listEvents({ agentsn: 'n1', kind: 'refused' }, page())).items;
    expect(refused).toHaveLength(1);
    expect(refused[0]!.data).toEqual({
      reason: 'hostname held by another host',
      asked: 'host-n2',
      kept: 'host-n1',
      holder: 'n2',
    });
    await store.ingestStatus(status('n1', 11_000, { hostname: 'free-name' }));
    expect((await store.getHost('n1'))!.hostname).toBe('free-name');
    expect((await store.deleteHost('n2', 12_000)).ok).toBe(true);
    await store.ingestStatus(status('n1', 13_000, { hostname: 'host-n2' }));
    expect((await store.getHost('n1'))!.hostname).toBe('host-n2');
  });

  it('status: host online with its fields, events stored once, dropped events counted, offline after missed steps', async () => {
    await fresh();
    await registered(store, 's1');
    const ev = {
      localid: 1,
      occurred: 100,
      kind: 'agent_started',
      agent: 'BasicAgent',
      message: 'up',
      data: { pid: 5 },
    };
    const out = await store.ingestStatus(
      status('s1', 10_000, { events: [ev as never], eventsDropped: 3, tags: 'svc=web' }),
    );
    expect(out.eventsStored).toBe(2);
    const again = await store.ingestStatus(status('s1', 11_000, { events: [ev as never], tags: 'svc=web' }));
    expect(again.eventsStored).toBe(0);
    const h = (await store.getHost('s1'))!;
    expect(h).toMatchObject({
      status: 'online',
      hostname: 'host-s1',
      curvers: '1.0.0',
      os: 'linux',
      step: 1,
      events_dropped: 3,
      events_dropped_at: 10_000,
      reported_tags: 'svc=web',
    });
    expect(h.agents).toEqual([{ name: 'BasicAgent', version: '1.0.0', status: 'running' }]);
    expect(h.last_seen).toBe(11_000);
    const events = await store.listEvents({ agentsn: 's1' }, page());
    expect(events.count).toBe(2);
    expect(events.items.map((e) => e.kind).sort()).toEqual(['agent_started', 'events_dropped']);
    expect(events.items.find((e) => e.kind === 'agent_started')!.data).toEqual({ pid: 5 });
    await store.addServerEvent('s1', 'identity_refused', 'bad cert', { why: 'x' }, 12_000);
    expect((await store.listEvents({ agentsn: 's1', kind: 'identity_refused' }, page())).count).toBe(1);
    expect(await store.markOffline(11_000 + 2_500, 3)).toBe(0);
    expect(await store.markOffline(11_000 + 3_500, 3)).toBe(1);
    expect((await store.getHost('s1'))!.status).toBe('offline');
    expect(await store.pruneEvents(12_000)).toBe(2);
    const dash = await store.computeDashboard(20_000);
    expect(dash.hosts).toEqual({ total: 1, online: 0, offline: 1, registered: 0 });
    expect(dash.agents).toEqual([{ name: 'BasicAgent', deployed: 1, online: 0 }]);
  });

  it('agents task with batch 1: one job per push, results recorded, ttr requeue re-sends the same job id, task completes', async () => {
    await fresh();
    await registered(store, 't1');
    await registered(store, 't2');
    const created = (await store.createTask(
      taskSpec({ agents: ['t1', 't2', 'ghost'], batch: 1, user: 'alice' }) as never,
      1000,
    )) as { id: number; results?: { AgentSN: string; errcode?: number }[] };
    const id = created.id;
    expect(id).toBeGreaterThan(0);
    const first = await store.getTask(id);
    expect(first!.task).toMatchObject({
      command: 'sync.bash',
      parameters: { cmd: 'true' },
      user: 'alice',
      selector: 'agents',
      status: 'RUNNING',
      count: 3,
    });
    const ghost = first!.subtasks.find((s) => s.agentsn === 'ghost');
    if (ghost) expect(ghost).toMatchObject({ state: 'FAILED', errcode: ErrorCode.TASK_HOST_UNKNOWN });
    // batch 1: exactly one of the two known hosts is admitted.
    const p1 = await store.ingestStatus(status('t1', 2000));
    const p2 = await store.ingestStatus(status('t2', 2000));
    const got = [...p1.reserved, ...p2.reserved];
    expect(got).toHaveLength(1);
    const job = got[0]!;
    expect(job).toMatchObject({ taskid: id, command: 'sync.bash', parameters: { cmd: 'true' } });
    const owner = p1.reserved.length ? 't1' : 't2';
    const other = owner === 't1' ? 't2' : 't1';
    // ttr runs out: READY again, the same job id is handed out again.
    const t = await store.tick(2000 + 5000);
    expect(t.requeued).toBe(1);
    const re = await store.ingestStatus(status(owner, 8000));
    expect(re.reserved.map((r) => r.jobid)).toEqual([job.jobid]);
    const done = await store.ingestStatus(
      status(owner, 9000, { jobs: [{ id: job.jobid, errcode: 0, message: 'ok' } as never] }),
    );
    expect(done.resultsRecorded).toBe(1);
    await store.tick(9100);
    const next = await store.ingestStatus(status(other, 9200));
    expect(next.reserved).toHaveLength(1);
    await store.ingestStatus(
      status(other, 9300, { jobs: [{ id: next.reserved[0]!.jobid, errcode: 0, message: 'ok' } as never] }),
    );
    await store.tick(9400);
    const final = (await store.getTask(id))!;
    expect(final.task.status).toBe('COMPLETE');
    expect(final.states.SUCCESS).toBe(2);
    expect((await store.listTasks({ status: 'COMPLETE' }, page())).count).toBe(1);
    const listed = await store.getTask(id, { state: 'SUCCESS' });
    expect(listed!.subtasks.map((s) => s.agentsn).sort()).toEqual(['t1', 't2']);
    expect(Object.keys(listed!.subtasks[0]!)).not.toContain('seq');
  });

  it('tag task: a matching host gets its subtask on its push, a failed job is retried, revoke and kick answer', async () => {
    await fresh();
    await registered(store, 'g1');
    await registered(store, 'g2');
    const { id } = (await store.createTask(
      taskSpec({ tags: 'svc=web', windowStart: 0, windowEnd: 1e12, retryCount: 1 }) as never,
      1000,
    )) as { id: number };
    const none = await store.ingestStatus(status('g2', 2000, { tags: 'svc=db' }));
    expect(none.reserved).toHaveLength(0);
    const got = await store.ingestStatus(status('g1', 2000, { tags: 'svc=web' }));
    expect(got.reserved).toHaveLength(1);
    // A failure with retryCount 1: DELAYED/READY again for a second attempt with a new job id.
    await store.ingestStatus(
      status('g1', 3000, {
        tags: 'svc=web',
        jobs: [{ id: got.reserved[0]!.jobid, errcode: 1, message: 'boom' } as never],
      }),
    );
    await store.tick(60_000);
    const second = await store.ingestStatus(status('g1', 60_000, { tags: 'svc=web' }));
    expect(second.reserved).toHaveLength(1);
    expect(second.reserved[0]!.jobid).not.toBe(got.reserved[0]!.jobid);
    const revoked = await store.revokeTask(id, 61_000);
    expect(revoked.ok).toBe(true);
    expect((await store.getTask(id))!.task.status).toBe('REVOKED');
    expect((await store.revokeTask(9999, 1)).ok).toBe(false);
    expect((await store.kickTask(id, 62_000)).ok).toBe(true);
    expect((await store.kickTask(9999, 1)).ok).toBe(false);
    await store.failReserved(second.reserved[0]!.jobid, ErrorCode.TASK_EXPIRED, 'gone', 63_000);
    expect((await store.getTask(id))!.subtasks[0]!.state).toBe('FAILED');
  });

  it('task engine model: priority order, dependencies, max_errors halt, revoke of a RESERVED subtask, touch, kick one subtask', async () => {
    await fresh();
    await registered(store, 'e1');
    await registered(store, 'e2');
    expect(await store.unknownTargets(['e1', 'nope'], [999])).toEqual({ hosts: ['nope'], tasks: [999] });
    const low = (await store.createTask(taskSpec({ agents: ['e1'], priority: 2000 }) as never, 1000)).id;
    const high = (await store.createTask(taskSpec({ agents: ['e1'], priority: 1 }) as never, 1000)).id;
    const dep = (await store.createTask(taskSpec({ agents: ['e1', 'e2'], after: [high] }) as never, 1000)).id;
    const first = await store.ingestStatus(status('e1', 2000));
    expect(first.reserved.map((r) => r.taskid)).toEqual([high, low]);
    expect((await store.getTask(high))!.task).toMatchObject({ priority: 1, after: [] });
    expect((await store.getTask(dep))!.task.after).toEqual([high]);
    // e2 has no subtask of `high`: its dependent subtask fails; e1's waits for high's SUCCESS.
    await store.tick(2100);
    const depRows = (await store.getTask(dep))!.subtasks;
    expect(depRows.find((s) => s.agentsn === 'e2')).toMatchObject({
      state: 'FAILED',
      errcode: ErrorCode.TASK_DEPENDENCY_FAILED,
    });
    expect(depRows.find((s) => s.agentsn === 'e1')!.state).toBe('PENDING');
    const hj = first.reserved.find((r) => r.taskid === high)!;
    await store.ingestStatus(status('e1', 3000, { jobs: [{ id: hj.jobid, errcode: 0, message: 'ok' } as never] }));
    await store.tick(3100);
    expect((await store.getTask(dep))!.subtasks.find((s) => s.agentsn === 'e1')!.state).toBe('READY');
    // Revoke the RESERVED subtask of `low`: marked for the host to cancel.
    const lowSub = (await store.getTask(low))!.subtasks[0]!;
    expect((await store.touchSubtask(low, lowSub.id, 3200)).ok).toBe(true);
    expect((await store.getTask(low))!.subtasks[0]!.reserved_at).toBe(3200);
    const rv = await store.revokeSubtask(low, lowSub.id, 3300);
    expect(rv).toMatchObject({ ok: true, value: { revoked: 0, cancelling: 1 } });
    expect(await store.revokedReserved('e1')).toEqual([{ subtaskId: lowSub.id, jobid: lowSub.jobid, taskid: low }]);
    expect((await store.revokeSubtask(low, 'nope', 3300)).ok).toBe(false);
    expect((await store.touchSubtask(dep, depRows[0]!.id, 3300)).ok).toBe(false);
    // max_errors 0 with a failure: the task halts, its waiting subtasks are REVOKED.
    const halting = (await store.createTask(taskSpec({ agents: ['e1', 'e2'], batch: 1, maxErrors: 0 }) as never, 4000))
      .id;
    const hp = [
      ...(await store.ingestStatus(status('e1', 4100))).reserved,
      ...(await store.ingestStatus(status('e2', 4100))).reserved,
    ].filter((r) => r.taskid === halting);
    expect(hp).toHaveLength(1);
    const who = (await store.getTask(halting))!.subtasks.find((s) => s.state === 'RESERVED')!.agentsn;
    await store.ingestStatus(status(who, 4200, { jobs: [{ id: hp[0]!.jobid, errcode: 7, message: 'bad' } as never] }));
    const halted = (await store.getTask(halting))!;
    expect(halted.task.status).toBe('HALTED');
    expect(halted.task.halt_reason).toMatch(/max_errors/);
    expect(halted.states.REVOKED).toBe(1);
    const m = await (
      store as { metricCounts?: () => Promise<{ hosts: Record<string, number>; subtasks: Record<string, number> }> }
    ).metricCounts?.();
    expect(m?.hosts.online).toBe(2);
    const recent = await store.hostSubtasks?.('e1', 2);
    expect(recent?.map((r) => [r.taskid, r.command, r.task_status])).toEqual([
      [halting, 'sync.bash', 'HALTED'],
      [dep, 'sync.bash', 'RUNNING'],
    ]);
  });

  it('retry one subtask: FAILED -> PENDING and admitted again with a new job id, the COMPLETE task runs again; other states, a stopped task and a batch slot are respected', async () => {
    await fresh();
    await registered(store, 'r1');
    await registered(store, 'r2');
    // refuseUnknown (POST /task without allow_unknown): the unknown ones answered, nothing made.
    expect(
      await store.createTask(
        taskSpec({ agents: ['r1', 'ghost-1', 'r2', 'ghost-2'], refuseUnknown: true }) as never,
        900,
      ),
    ).toEqual({ id: 0, results: [], unknown: ['ghost-1', 'ghost-2'] });
    expect((await store.listTasks({}, page())).count).toBe(0);
    expect((await store.getTask(1, { state: 'READY' }))?.subtasks ?? []).toEqual([]);
    const id = (await store.createTask(taskSpec({ agents: ['r1', 'r2'], maxErrors: 1 }) as never, 1000)).id;
    const j1 = (await store.ingestStatus(status('r1', 1100))).reserved[0]!;
    const j2 = (await store.ingestStatus(status('r2', 1100))).reserved[0]!;
    await store.ingestStatus(status('r1', 1200, { jobs: [{ id: j1.jobid, errcode: 9, message: 'bad' } as never] }));
    await store.ingestStatus(status('r2', 1200, { jobs: [{ id: j2.jobid, errcode: 0, message: 'ok' } as never] }));
    const done = (await store.getTask(id))!;
    expect(done.task.status).toBe('COMPLETE');
    const failed = done.subtasks.find((s) => s.agentsn === 'r1')!;
    const ok = done.subtasks.find((s) => s.agentsn === 'r2')!;
    expect(failed.state).toBe('FAILED');
    // SUCCESS is not retried; an unknown subtask is not found.
    expect(await store.retrySubtask(id, ok.id, 1300)).toMatchObject({ ok: false, reason: 'conflict' });
    expect(await store.retrySubtask(id, 'nope', 1300)).toMatchObject({ ok: false, reason: 'not_found' });
    expect(await store.retrySubtask(id, failed.id, 1300)).toEqual({ ok: true, value: { retried: 1, state: 'READY' } });
    const reopened = (await store.getTask(id))!;
    expect(reopened.task).toMatchObject({ status: 'RUNNING', complete: 1 });
    expect(reopened.subtasks.find((s) => s.id === failed.id)).toMatchObject({
      state: 'READY',
      errcode: null,
      jobid: null,
    });
    const again = (await store.ingestStatus(status('r1', 1400))).reserved[0]!;
    expect(again.jobid).not.toBe(j1.jobid);
    expect(again.jobid).toBe(`${failed.id}.2`);
    await store.ingestStatus(status('r1', 1500, { jobs: [{ id: again.jobid, errcode: 0, message: 'ok' } as never] }));
    expect((await store.getTask(id))!.task).toMatchObject({ status: 'COMPLETE', complete: 2 });
    // A REVOKED subtask of a running task is retried; once the task is revoked, nothing is.
    const two = (await store.createTask(taskSpec({ agents: ['r1', 'r2'], batch: 1 }) as never, 2000)).id;
    const rows = (await store.getTask(two))!.subtasks;
    const pendingOne = rows.find((s) => s.state === 'PENDING')!;
    expect(await store.revokeSubtask(two, pendingOne.id, 2100)).toMatchObject({ ok: true, value: { revoked: 1 } });
    // batch 1 with the other in flight: the retried one waits PENDING for the slot.
    expect(await store.retrySubtask(two, pendingOne.id, 2200)).toEqual({
      ok: true,
      value: { retried: 1, state: 'PENDING' },
    });
    expect(await store.revokeSubtask(two, pendingOne.id, 2300)).toMatchObject({ ok: true });
    expect((await store.revokeTask(two, 2400)).ok).toBe(true);
    const stopped = await store.retrySubtask(two, pendingOne.id, 2500);
    expect(stopped).toMatchObject({ ok: false, reason: 'conflict' });
    expect(stopped.ok ? '' : stopped.cause).toMatch(/task is REVOKED/);
    // A HALTED task (max_errors 0) stays halted; its failed subtask, retried, is READY at once.
    const h = (await store.createTask(taskSpec({ agents: ['r1', 'r2'], batch: 1 }) as never, 3000)).id;
    const hj = [
      ...(await store.ingestStatus(status('r1', 3100))).reserved,
      ...(await store.ingestStatus(status('r2', 3100))).reserved,
    ].filter((x) => x.taskid === h);
    expect(hj).toHaveLength(1);
    const who = (await store.getTask(h))!.subtasks.find((x) => x.state === 'RESERVED')!;
    await store.ingestStatus(
      status(who.agentsn, 3200, { jobs: [{ id: hj[0]!.jobid, errcode: 5, message: 'no' } as never] }),
    );
    expect((await store.getTask(h))!.task.status).toBe('HALTED');
    expect(await store.retrySubtask(h, who.id, 3300)).toEqual({ ok: true, value: { retried: 1, state: 'READY' } });
    const rerun = (await store.ingestStatus(status(who.agentsn, 3400))).reserved.find((x) => x.taskid === h)!;
    expect(rerun.jobid).toBe(`${who.id}.2`);
    await store.ingestStatus(
      status(who.agentsn, 3500, { jobs: [{ id: rerun.jobid, errcode: 0, message: 'ok' } as never] }),
    );
    const after = (await store.getTask(h))!;
    expect(after.task).toMatchObject({ status: 'HALTED', complete: 2 });
    expect(after.subtasks.find((x) => x.id === who.id)!.state).toBe('SUCCESS');
    // The whole task retried: its REVOKED (halted) subtask runs, the task RUNNING again, then COMPLETE.
    expect(await store.retryTask(h, 3600)).toEqual({ ok: true, value: { retried: 1 } });
    expect((await store.getTask(h))!.task).toMatchObject({ status: 'RUNNING', halt_reason: null });
    const other = who.agentsn === 'r1' ? 'r2' : 'r1';
    const last = (await store.ingestStatus(status(other, 3700))).reserved.find((x) => x.taskid === h)!;
    await store.ingestStatus(status(other, 3800, { jobs: [{ id: last.jobid, errcode: 0, message: 'ok' } as never] }));
    expect((await store.getTask(h))!.task).toMatchObject({ status: 'COMPLETE', complete: 2 });
    expect(await store.retryTask(h, 3900)).toEqual({ ok: true, value: { retried: 0 } });
    expect(await store.retryTask(two, 3900)).toMatchObject({ ok: false, reason: 'conflict' });
    expect(await store.retryTask(9999, 3900)).toMatchObject({ ok: false, reason: 'not_found' });
  });

  it('tags and regions: create, conflict, update, bind, host filters (tag, case-insensitive search), paging and sorting', async () => {
    await fresh();
    for (const sn of ['Alpha1', 'beta2', 'gamma3']) await registered(store, sn);
    const web = await store.createTag('svc', 'web', 1000);
    expect(web.ok).toBe(true);
    const dup = await store.createTag('svc', 'web', 1000);
    expect(dup).toMatchObject({ ok: false, reason: 'conflict' });
    const db2 = await store.createTag('svc', 'db', 1000);
    if (!web.ok || !db2.ok) throw new Error('tags');
    expect((await store.updateTag(db2.value.id, 'svc', 'web', 2000)).ok).toBe(false);
    expect((await store.updateTag(db2.value.id, 'svc', 'rds', 2000)).ok).toBe(true);
    expect((await store.updateTag(999, 'a', 'b', 1)).ok).toBe(false);
    const bound = await store.bindTag(web.value.id, ['Alpha1', 'beta2', 'nobody'], true, 3000);
    expect(bound).toEqual({ ok: true, value: { changed: 2, unknown: ['nobody'] } });
    expect(
      (await store.bindTag(web.value.id, ['Alpha1'], true, 3000)).ok &&
        (await store.bindTag(web.value.id, ['Alpha1'], true, 3000)),
    ).toMatchObject({ value: { changed: 0 } });
    const tags = await store.listTags({}, page('hosts', 'desc'));
    expect(tags.items.map((t) => [t.value, t.hosts])).toEqual([
      ['web', 2],
      ['rds', 0],
    ]);
    expect((await store.listHosts({ tag: 'svc=web' }, page('agentsn'))).items.map((h) => h.agentsn)).toEqual([
      'Alpha1',
      'beta2',
    ]);
    expect((await store.getHost('Alpha1'))!.tags).toEqual(['svc=web']);
    expect((await store.listHosts({ search: 'alp' }, page())).items.map((h) => h.agentsn)).toEqual(['Alpha1']);
    expect((await store.listHosts({ search: 'HOST-B' }, page())).items.map((h) => h.agentsn)).toEqual(['beta2']);
    expect((await store.listHosts({ search: '%' }, page())).count).toBe(0);
    const p = await store.listHosts({}, page('agentsn', 'desc', 2, 1));
    expect(p.count).toBe(3);
    expect(p.items.map((h) => h.agentsn)).toEqual(['beta2', 'Alpha1']);
    const r = await store.createRegion('eu', 1000);
    expect(r.ok).toBe(true);
    expect((await store.createRegion('eu', 1000)).ok).toBe(false);
    if (!r.ok) throw new Error('region');
    expect(await store.setHostRegion(['Alpha1', 'beta2'], r.value.id, 2000)).toEqual({
      ok: true,
      value: { updated: 2 },
    });
    expect((await store.setHostRegion(['Alpha1'], 999, 2000)).ok).toBe(false);
    expect((await store.listHosts({ region: r.value.id }, page())).count).toBe(2);
    expect((await store.getHost('Alpha1'))!.region_name).toBe('eu');
    const regions = await store.listRegions(page());
    expect(regions.items.map((x) => [x.id, x.name, x.hosts])).toEqual([
      [0, 'global', 1],
      [r.value.id, 'eu', 2],
    ]);
    expect((await store.updateRegion(r.value.id, 'global', 3000)).ok).toBe(false);
    expect((await store.deleteRegion(0)).ok).toBe(false);
    expect((await store.deleteRegion(r.value.id)).ok).toBe(true);
    expect((await store.getHost('Alpha1'))!.region).toBe(0);
    expect((await store.deleteTag(web.value.id)).ok).toBe(true);
    expect((await store.getHost('Alpha1'))!.tags).toEqual([]);
    expect((await store.deleteTag(web.value.id)).ok).toBe(false);
  });

  it('packages: insert, conflicts, find, list, delete returns the rows', async () => {
    await fresh();
    const p = {
      name: 'FooAgent',
      version: '1.0.0',
      os: 'linux',
      arch: 'x86_64',
      file: 'f.tar.gz',
      path: 'packages/FooAgent/1.0.0/f.tar.gz',
      size: 3,
      sha256: 'ab',
    };
    const a = await store.insertPackage(p, 1000);
    expect(a.ok && a.value).toMatchObject({ ...p, gmt_create: 1000 });
    expect(await store.insertPackage(p, 1000)).toMatchObject({ ok: false, reason: 'conflict' });
    expect(await store.insertPackage({ ...p, version: '2.0.0' }, 1000)).toMatchObject({
      ok: false,
      reason: 'conflict',
    });
    await store.insertPackage({ ...p, arch: 'aarch64', path: 'packages/x' }, 1000);
    expect((await store.findPackage('FooAgent', '1.0.0', 'linux', 'aarch64'))!.path).toBe('packages/x');
    expect((await store.findPackage('FooAgent', '1.0.0'))!.arch).toBe('x86_64');
    expect((await store.listPackages({ name: 'FooAgent' }, page('id', 'desc'))).items.map((x) => x.arch)).toEqual([
      'aarch64',
      'x86_64',
    ]);
    const gone = await store.deletePackages({ arch: 'aarch64' });
    expect(gone.map((x) => x.path)).toEqual(['packages/x']);
    expect(await store.deletePackages({})).toEqual([]);
    expect(await store.getPackage(a.ok ? a.value.id : 0)).toMatchObject({ name: 'FooAgent' });
  });

  it('tokens and the audit log: grant marks use, delete by name, audit filters and retention', async () => {
    await fresh();
    const id = await store.createToken('alice', 'hash-a', 1000, { role: 'operator', scope: '{"tags":["svc=web"]}' });
    expect(id).toBeGreaterThan(0);
    await store.createToken('bob', 'hash-b', 1000);
    expect(await store.tokenGrant('hash-a', 2000)).toEqual({
      name: 'alice',
      role: 'operator',
      scope: '{"tags":["svc=web"]}',
    });
    expect(await store.tokenGrant('nope', 2000)).toBeUndefined();
    const list = await store.listTokens();
    expect(list.map((t) => [t.name, t.role, t.last_used])).toEqual([
      ['alice', 'operator', 2000],
      ['bob', 'admin', null],
    ]);
    expect(await store.deleteTokens('bob')).toBe(1);
    const entry = {
      phase: 'dispatch' as const,
      request: 'r1',
      token: 'alice',
      source: '127.0.0.1',
      method: 'POST',
      route: '/api/v1/server/polaris',
      targets: 2,
      selector: 'hosts=h1,h2',
      command: 'uptime',
      run_as: 'root',
      code: null,
      outcome: null,
    };
    await store.appendAudit({ ...entry, at: 1000 });
    await store.appendAudit({ ...entry, at: 2000, phase: 'result', code: 200, outcome: 'ok', selector: 'hosts=h3' });
    expect((await store.listAudit({ agentsn: 'h2' }, page())).items.map((a) => a.at)).toEqual([1000]);
    expect((await store.listAudit({ since: 1500 }, page())).items[0]).toMatchObject({
      phase: 'result',
      code: 200,
      targets: 2,
    });
    expect((await store.listAudit({ token: 'alice' }, page('at', 'desc'))).items.map((a) => a.at)).toEqual([
      2000, 1000,
    ]);
    expect(await store.pruneAudit(1500)).toBe(1);
  });

  it('task results: the newest keep per (host, name), found by hostname or AgentSN, pruned by age', async () => {
    await fresh();
    for (let i = 0; i < 5; i++) {
      await store.addTaskResult(
        {
          host: 'h1',
          agentsn: 'sn1',
          name: 'disk',
          started: i,
          duration_ms: 5,
          retcode: 0,
          output: `o${i}`,
          truncated: i === 4,
          received: 1000 + i,
        },
        3,
      );
    }
    const rows = await store.listTaskResults({ host: 'sn1', limit: 10 });
    expect(rows.map((r) => r.output)).toEqual(['o2', 'o3', 'o4']);
    expect(rows[2]).toMatchObject({ truncated: true, skipped: false, agentsn: 'sn1', errcode: null });
    expect((await store.listTaskResults({ host: 'h1', name: 'disk', limit: 1 })).map((r) => r.output)).toEqual(['o4']);
    expect(await store.pruneTaskResults(1004)).toBe(2);
  });

  it('a server secret is made once and kept', async () => {
    await fresh();
    const a = await store.secret('packages');
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(await store.secret('packages')).toBe(a);
    expect(await store.secret('other')).not.toBe(a);
  });
});

describe('postgres only', () => {
  it('two stores opening one database together apply each migration once (advisory lock)', async () => {
    await pg.createDatabase('race');
    const p = parseDatabaseUrl(pg.urlOf('race'), { env: pg.password });
    if (!p.ok) throw new Error(p.problem);
    const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore(p.target.connection, { poolSize: 2 })));
    try {
      for (const s of stores) expect(await s.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
      expect((await pg.psql('SELECT COUNT(*) FROM schema_migrations', 'race')).trim()).toBe(String(MIGRATIONS.length));
      // Two nodes reserving for the same host: each READY subtask goes to one of them.
      const [a, b] = [stores[0]!, stores[1]!];
      await registered(a, 'r1');
      const { id } = (await a.createTask(taskSpec({ agents: ['r1'] }) as never, 1000)) as { id: number };
      const [x, y] = await Promise.all([a.ingestStatus(status('r1', 2000)), b.ingestStatus(status('r1', 2000))]);
      expect(x.reserved.length + y.reserved.length).toBe(1);
      expect((await a.getTask(id))!.subtasks[0]!.state).toBe('RESERVED');
    } finally {
      for (const s of stores) await s.close();
    }
  });

  it('two nodes pushing and ticking at once: no error (deadlocks retried), each subtask reserved once, one scheduler pass at a time', async () => {
    await pg.createDatabase('busy');
    const p = parseDatabaseUrl(pg.urlOf('busy'), { env: pg.password });
    if (!p.ok) throw new Error(p.problem);
    const [a, b] = await Promise.all([
      openPostgresStore(p.target.connection, { poolSize: 6 }),
      openPostgresStore(p.target.connection, { poolSize: 6 }),
    ]);
    try {
      const hosts = Array.from({ length: 12 }, (_, i) => `b${i}`);
      for (const sn of hosts) await registered(a, sn);
      const { id } = (await a.createTask(taskSpec({ agents: hosts, batch: 4, ttrMs: 600_000 }) as never, 1000)) as {
        id: number;
      };
      const reserved: string[] = [];
      for (let round = 0; round < 6; round++) {
        const now = 2000 + round * 100;
        const outs = await Promise.all([
          ...hosts.map((sn, i) => (i % 2 ? a : b).ingestStatus(status(sn, now))),
          a.tick(now),
          b.tick(now),
        ]);
        for (const o of outs) if ('reserved' in o) for (const r of o.reserved) reserved.push(r.jobid);
        // Every job handed out finishes in the next round's pushes.
        const byHost = (await a.getTask(id))!.subtasks.filter((s) => s.state === 'RESERVED');
        await Promise.all(
          byHost.map((s, i) =>
            (i % 2 ? b : a).ingestStatus(
              status(s.agentsn, now + 50, { jobs: [{ id: s.jobid!, errcode: 0, message: 'ok' } as never] }),
            ),
          ),
        );
      }
      await a.tick(10_000);
      const t = (await a.getTask(id))!;
      expect(t.states.SUCCESS).toBe(12);
      expect(new Set(reserved).size).toBe(reserved.length);
      expect(reserved).toHaveLength(12);
      // While one node's pass holds the scheduler lock, the other's pass is skipped.
      const client = await a.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1)', [0x61737074]);
        await b.createTask(taskSpec({ agents: ['b0'], delayMs: 0 }) as never, 20_000);
        expect(await b.tick(30_000)).toEqual({
          expired: 0,
          promoted: 0,
          requeued: 0,
          buried: 0,
          admitted: 0,
          completedTasks: 0,
        });
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a wrong password is refused; the error carries no password', async () => {
    const p = parseDatabaseUrl(pg.url, { env: 'not-the-password' });
    if (!p.ok) throw new Error(p.problem);
    const err = await openPostgresStore(p.target.connection).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/password authentication failed/);
    expect(err?.message).not.toContain('not-the-password');
  });
});
