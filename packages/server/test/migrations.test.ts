// A database made by an older server (only migration 001 applied, a host in it) is upgraded in
// place on open: later migrations run once, existing rows keep their data and get the defaults.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, expect, it } from 'vitest';
import { MIGRATIONS } from '../src/store/migrations.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('upgrades a version-1 database in place, keeping its hosts', async () => {
  dir = mkdtempSync(join(tmpdir(), 'aspire-migrate-'));
  const file = join(dir, 'aspire.db');
  const old = new DatabaseSync(file);
  old.exec(
    'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL)',
  );
  old.exec(MIGRATIONS[0]!.sql);
  old.exec(`INSERT INTO schema_migrations VALUES (1, '001-init', 0)`);
  old.exec(
    `INSERT INTO hosts(agentsn, hostname, credential_hash, gmt_create, gmt_modify) VALUES ('sn-old', 'old-host', 'x', 1, 1)`,
  );
  old.close();

  const store = openSqliteStore(file);
  try {
    expect(store.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await store.getHost('sn-old')).toMatchObject({
      hostname: 'old-host',
      events_dropped: 0,
      events_dropped_at: null,
    });
    await store.addTaskResult(
      { host: 'old-host', name: 't', started: 1, duration_ms: 1, retcode: 0, output: '', received: 1 },
      5,
    );
    expect(await store.listTaskResults({ host: 'old-host', limit: 5 })).toHaveLength(1);
  } finally {
    store.close();
  }
  // Opening again applies nothing twice.
  const again = openSqliteStore(file);
  expect(again.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
  again.close();
});
