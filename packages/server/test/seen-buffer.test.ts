// The SQLite store's buffer of quiet status pushes (last_seen, uptime) on a full disk: what was
// answered stays buffered until a write succeeds, reads and the offline sweep see it, and it
// reaches the database once space returns. The full disk is the one fake: the store's
// transactions (tx() and the batch of pushes) throw SQLite's SQLITE_FULL while `full` is set.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '@aspire/testing';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite-store.ts';

let store: SqliteStore;
let clock: ManualClock;
let full = false;

function diskFull(): Error {
  return Object.assign(new Error('database or disk is full'), { code: 'ERR_SQLITE_ERROR', errcode: 13 });
}

beforeEach(async () => {
  store = openSqliteStore(':memory:');
  clock = new ManualClock(Date.UTC(2026, 0, 1));
  // Every part of the store runs its transactions through the shared connection's tx().
  const sql = (
    store as unknown as {
      sql: { tx: (fn: () => unknown) => unknown; grouped: (fn: () => unknown) => Promise<unknown> };
    }
  ).sql;
  const tx = sql.tx.bind(sql);
  vi.spyOn(sql, 'tx').mockImplementation((fn) => {
    if (full) throw diskFull();
    return tx(fn);
  });
  // A push's full write runs in the batch of pushes (group commit), not in tx().
  const grouped = sql.grouped.bind(sql);
  vi.spyOn(sql, 'grouped').mockImplementation((fn) => (full ? Promise.reject(diskFull()) : grouped(fn)));
  full = false;
  await store.register({
    agentsn: 'a',
    hostname: 'a',
    ip: '127.0.0.1',
    newHash: 'h',
    freshAgentsn: 'fresh',
    now: clock.now(),
  });
});
afterEach(() => {
  full = false;
  store.close();
});

function push(uptime: number, events: { localid: number; occurred: number; kind: 'started'; message: string }[] = []) {
  return store.ingestStatus({
    agentsn: 'a',
    hostname: 'a',
    ip: '127.0.0.1',
    version: '1',
    os: 'linux',
    arch: 'x86_64',
    uptime,
    step: 1,
    agents: [],
    jobs: [],
    events,
    now: clock.now(),
  });
}

function written(): { uptime: number; last_seen: number; status: string } {
  return (
    store as unknown as { get: (sql: string, ...p: unknown[]) => { uptime: number; last_seen: number; status: string } }
  ).get('SELECT uptime, last_seen, status FROM hosts WHERE agentsn = ?', 'a');
}

describe('quiet pushes on a full disk', () => {
  it('stay buffered until written; reads and the sweep use them; written once space returns', async () => {
    const t0 = clock.now();
    await push(1); // the full write
    await clock.advance(100);
    await push(2); // quiet: buffered
    full = true;
    await clock.advance(1500);
    await expect(push(3)).resolves.toMatchObject({ reserved: [] }); // its flush fails: still answered
    const answeredAt = clock.now();
    expect(written()).toMatchObject({ uptime: 1, last_seen: t0 });
    // A read answers (no 503) with what was answered.
    expect(await store.getHost('a')).toMatchObject({ uptime: 3, last_seen: answeredAt, status: 'online' });
    expect((await store.listHosts({}, { offset: 0, limit: 10, order: 'asc', sortby: 'id' })).items[0]).toMatchObject({
      uptime: 3,
      last_seen: answeredAt,
    });
    // 3 missed steps after the last written push, but not after the last answered one: online.
    await clock.advance(2000);
    expect(await store.markOffline(clock.now(), 3)).toBe(0);
    // A push that needs the full write fails (503 upstream) and drops nothing buffered.
    await expect(push(4, [{ localid: 1, occurred: 1, kind: 'started', message: 'x' }])).rejects.toThrow(/disk is full/);
    full = false;
    await store.getHost('a');
    expect(written()).toMatchObject({ uptime: 3, last_seen: answeredAt, status: 'online' });
  });

  it('the sweep still takes a host offline whose last answered push is too old', async () => {
    await push(1);
    await clock.advance(100);
    await push(2);
    full = true;
    await clock.advance(10_000);
    // The sweep's own write fails too on a full disk; once space returns the host goes offline.
    await expect(store.markOffline(clock.now(), 3)).rejects.toThrow(/disk is full/);
    full = false;
    expect(await store.markOffline(clock.now(), 3)).toBe(1);
    expect(written().status).toBe('offline');
  });
});
