// The SQLite store answers a steady status push from memory (docs/performance.md "Status
// ingestion: what a push costs"): a host's credential hash, and whether its subtasks hold
// anything to hand out. Each must follow the database at once: a rotated or reset credential is
// what the next read answers, and any write to a host's subtasks (a new task, a revoke, a
// DELAYED subtask coming due) is seen by its next quiet push.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../packages/server/src/store/sqlite-store.ts';
import type { StatusInput } from '../../packages/server/src/store/store.ts';

let work: string;
let store: SqliteStore;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'aspire-push-caches-'));
  store = openSqliteStore(join(work, 'a.db'));
});

afterEach(() => {
  store.close();
  rmSync(work, { recursive: true, force: true });
});

const push = (agentsn: string, now: number, extra: Partial<StatusInput> = {}): StatusInput => ({
  agentsn,
  hostname: `host-${agentsn}`,
  ip: '127.0.0.1',
  version: '1.0.0',
  os: 'linux',
  arch: 'x86_64',
  uptime: 10,
  step: 60,
  agents: [],
  jobs: [],
  events: [],
  now,
  ...extra,
});

const register = (agentsn: string, newHash: string, presentedHash?: string) =>
  store.register({
    agentsn,
    hostname: `host-${agentsn}`,
    ip: '127.0.0.1',
    newHash,
    presentedHash,
    freshAgentsn: `${agentsn}-fresh`,
    now: 1000,
  });

const task = (agents: string[], over: Record<string, unknown> = {}) =>
  ({
    command: 'sync.bash',
    parameters: { cmd: 'true' },
    delayMs: 0,
    batch: 0,
    retryCount: 0,
    retryIntervalMs: 0,
    ttlMs: 0,
    ttrMs: 600_000,
    agents,
    ...over,
  }) as never;

describe('credential hash from memory', () => {
  it('a proven re-registration and an operator reset are answered by the next read', async () => {
    await register('c1', 'hash-1');
    expect(await store.credentialHash('c1')).toBe('hash-1');
    // Read twice: the second from memory.
    expect(await store.credentialHash('c1')).toBe('hash-1');
    await register('c1', 'hash-2', 'hash-1');
    expect(await store.credentialHash('c1')).toBe('hash-2');
    // A registration without proof is refused and changes nothing.
    expect((await register('c1', 'hash-3', 'wrong')).refused).toBe('takeover');
    expect(await store.credentialHash('c1')).toBe('hash-2');
    expect((await store.resetHost('c1', 2000)).ok).toBe(true);
    expect(await store.credentialHash('c1')).toBe('');
    expect(await store.credentialHash('nobody')).toBeUndefined();
    await register('nobody', 'hash-n');
    expect(await store.credentialHash('nobody')).toBe('hash-n');
  });
});

describe('quiet pushes of an idle host', () => {
  it('a task created, a subtask revoked and a result stored after the host was seen idle all reach its next push', async () => {
    await register('q1', 'h');
    await register('q2', 'h');
    // First push: the full write. Second: quiet, nothing to hand out, nothing revoked.
    expect((await store.ingestStatus(push('q1', 2000))).reserved).toEqual([]);
    expect(await store.ingestStatus(push('q1', 3000))).toMatchObject({ reserved: [], revoked: [] });
    // Seen idle; a new task for it must still be handed out on the next push.
    const t = (await store.createTask(task(['q1']), 3500)).id;
    const handed = await store.ingestStatus(push('q1', 4000));
    expect(handed.reserved.map((r) => r.taskid)).toEqual([t]);
    const job = handed.reserved[0]!;
    // Quiet again (the job is RESERVED, not revoked), then revoked: the next quiet push lists it.
    expect(await store.ingestStatus(push('q1', 5000))).toMatchObject({ reserved: [], revoked: [] });
    const sub = (await store.getTask(t))!.subtasks[0]!;
    expect(await store.revokeSubtask(t, sub.id, 5500)).toMatchObject({ ok: true, value: { cancelling: 1 } });
    const told = await store.ingestStatus(push('q1', 6000));
    expect(told.reserved).toEqual([]);
    expect(told.revoked).toEqual([{ subtaskId: sub.id, jobid: job.jobid, taskid: t }]);
    // Its result arrives (a full write): the revoke is no longer listed.
    await store.ingestStatus(push('q1', 7000, { jobs: [{ id: job.jobid, errcode: 0, message: 'ok' } as never] }));
    expect(await store.ingestStatus(push('q1', 8000))).toMatchObject({ reserved: [], revoked: [] });
    // Another host's writes do not disturb q1's answer, and q2 gets its own job.
    await store.ingestStatus(push('q2', 8000));
    const t2 = (await store.createTask(task(['q2']), 8100)).id;
    expect(await store.ingestStatus(push('q1', 9000))).toMatchObject({ reserved: [], revoked: [] });
    expect((await store.ingestStatus(push('q2', 9000))).reserved.map((r) => r.taskid)).toEqual([t2]);
  });

  it('a DELAYED subtask is handed out on the first push after its ready time, with no write in between', async () => {
    await register('d1', 'h');
    await store.ingestStatus(push('d1', 2000));
    expect(await store.ingestStatus(push('d1', 3000))).toMatchObject({ reserved: [], revoked: [] });
    const t = (await store.createTask(task(['d1'], { delayMs: 10_000 }), 3000)).id;
    expect((await store.getTask(t))!.subtasks[0]!.state).toBe('DELAYED');
    // Before its ready time: quiet, and remembered as idle until then.
    expect(await store.ingestStatus(push('d1', 4000))).toMatchObject({ reserved: [], revoked: [] });
    expect(await store.ingestStatus(push('d1', 5000))).toMatchObject({ reserved: [], revoked: [] });
    // Due at 13,000: no tick ran, yet the push at 13,000 reserves it.
    expect((await store.ingestStatus(push('d1', 13_000))).reserved.map((r) => r.taskid)).toEqual([t]);
  });

  it('a quiet push with new events stores them (once) and its last_seen, and still gets a job created meanwhile', async () => {
    await register('v1', 'h');
    await store.ingestStatus(push('v1', 2000));
    const ev = { localid: 1, occurred: 2, kind: 'started', agent: 'BasicAgent', message: 'up' } as never;
    expect(await store.ingestStatus(push('v1', 3000, { events: [ev], uptime: 11 }))).toMatchObject({
      reserved: [],
      revoked: [],
      eventsStored: 1,
    });
    expect(await store.ingestStatus(push('v1', 4000, { events: [ev], uptime: 12 }))).toMatchObject({ eventsStored: 0 });
    expect(await store.getHost('v1')).toMatchObject({ last_seen: 4000, uptime: 12, status: 'online' });
    expect(
      (await store.listEvents({ agentsn: 'v1' }, { sortby: 'id', order: 'asc', limit: 10, offset: 0 })).count,
    ).toBe(1);
    const t = (await store.createTask(task(['v1']), 4500)).id;
    const ev2 = { localid: 2, occurred: 3, kind: 'started', agent: 'BasicAgent', message: 'up' } as never;
    const out = await store.ingestStatus(push('v1', 5000, { events: [ev2] }));
    expect(out.reserved.map((r) => r.taskid)).toEqual([t]);
    expect(out.eventsStored).toBe(1);
  });
});
