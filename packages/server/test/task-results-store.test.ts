// Periodic-task results in the server's one database (migration 002): the bound per
// (host, task), lookup by hostname or AgentSN, pruning by age, and persistence across a reopen.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite-store.ts';
import type { TaskResultInput } from '../src/store/store.ts';

let dir: string;
let store: SqliteStore;

const result = (over: Partial<TaskResultInput> = {}): TaskResultInput => ({
  host: 'web-1',
  agentsn: 'sn-web-1',
  name: 'crontab:1',
  started: 1_700_000_000,
  started_ms: 1_700_000_000_000,
  duration_ms: 12,
  retcode: 0,
  output: 'ok\n',
  truncated: false,
  received: 1_000,
  ...over,
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aspire-results-'));
  store = openSqliteStore(join(dir, 'aspire.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('task results in the store', () => {
  it('keeps the newest `keep` per host and task, oldest first on read, other tasks and hosts untouched', async () => {
    for (let i = 1; i <= 7; i++)
      await store.addTaskResult(result({ started: i, output: `run ${i}\n`, received: i }), 3);
    await store.addTaskResult(result({ name: 'other', output: 'x' }), 3);
    await store.addTaskResult(result({ host: 'web-2', agentsn: 'sn-web-2', output: 'y' }), 3);
    const mine = await store.listTaskResults({ host: 'web-1', name: 'crontab:1', limit: 100 });
    expect(mine.map((r) => r.output)).toEqual(['run 5\n', 'run 6\n', 'run 7\n']);
    expect(mine[0]).toEqual({
      host: 'web-1',
      agentsn: 'sn-web-1',
      name: 'crontab:1',
      started: 5,
      started_ms: 1_700_000_000_000,
      duration_ms: 12,
      retcode: 0,
      errcode: null,
      message: null,
      output: 'run 5\n',
      truncated: false,
      skipped: false,
      received: 5,
    });
    // By AgentSN as well as hostname; without a name every task of the host; limit = newest n.
    expect((await store.listTaskResults({ host: 'sn-web-1', limit: 100 })).map((r) => r.name)).toEqual([
      'crontab:1',
      'crontab:1',
      'crontab:1',
      'other',
    ]);
    expect((await store.listTaskResults({ host: 'web-1', limit: 2 })).map((r) => r.output)).toEqual(['run 7\n', 'x']);
    expect(await store.listTaskResults({ host: 'web-2', limit: 10 })).toHaveLength(1);
    expect(await store.listTaskResults({ host: 'nobody', limit: 10 })).toEqual([]);
  });

  it('keeps error fields, skipped runs and a host without AgentSN', async () => {
    await store.addTaskResult(
      {
        host: 'bare',
        name: 't',
        started: 1,
        duration_ms: 0,
        retcode: -1,
        errcode: 256,
        message: 'timeout',
        output: '',
        truncated: true,
        skipped: true,
        received: 2,
      },
      10,
    );
    expect(await store.listTaskResults({ host: 'bare', limit: 10 })).toMatchObject([
      { agentsn: null, started_ms: null, errcode: 256, message: 'timeout', truncated: true, skipped: true },
    ]);
  });

  it('prunes by arrival time and survives a reopen, in the one database file', async () => {
    await store.addTaskResult(result({ received: 1_000 }), 10);
    await store.addTaskResult(result({ received: 5_000 }), 10);
    expect(await store.pruneTaskResults(2_000)).toBe(1);
    store.close();
    store = openSqliteStore(join(dir, 'aspire.db'));
    expect((await store.listTaskResults({ host: 'web-1', limit: 10 })).map((r) => r.received)).toEqual([5_000]);
    expect(existsSync(join(dir, 'hub.sqlite'))).toBe(false);
    expect(readdirSync(dir).filter((f) => !f.startsWith('aspire.db'))).toEqual([]);
  });
});
