// The hosts list's `search` filter (the console's search box): a case-insensitive prefix of the
// hostname or the AgentSN, with LIKE wildcards in the input taken literally.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite-store.ts';

let dir: string;
let store: SqliteStore;
const paging = { offset: 0, limit: 100, order: 'asc' as const, sortby: 'hostname' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aspire-search-'));
  store = openSqliteStore(join(dir, 'aspire.db'));
  const hosts = [
    ['sn-aaa-1', 'web-01'],
    ['sn-aaa-2', 'web-02'],
    ['sn-bbb-1', 'db_01'],
    ['sn-bbb-2', 'dbx01'],
    ['sn-ccc-1', 'Web-Admin'],
  ];
  for (const [agentsn, hostname] of hosts) {
    await store.register({
      agentsn: agentsn!,
      hostname: hostname!,
      ip: '127.0.0.1',
      newHash: `h-${agentsn}`,
      freshAgentsn: `fresh-${agentsn}`,
      now: 1000,
    });
  }
});
afterAll(() => {
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const names = async (search: string) => (await store.listHosts({ search }, paging)).items.map((h) => h.hostname);

describe('host search', () => {
  it('matches a hostname prefix, case-insensitively', async () => {
    expect(await names('web')).toEqual(['Web-Admin', 'web-01', 'web-02']);
    expect(await names('WEB-0')).toEqual(['web-01', 'web-02']);
  });

  it('matches an AgentSN prefix', async () => {
    expect(await names('sn-bbb')).toEqual(['db_01', 'dbx01']);
  });

  it('takes LIKE wildcards literally', async () => {
    expect(await names('db_')).toEqual(['db_01']);
    expect(await names('%')).toEqual([]);
  });

  it('combines with the other filters and counts only matches', async () => {
    const page = await store.listHosts({ search: 'web', status: 'online' }, paging);
    expect(page.count).toBe(0);
    expect((await store.listHosts({ search: 'web' }, { ...paging, limit: 1 })).count).toBe(3);
  });
});
