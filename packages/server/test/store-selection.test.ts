// Store selection at the edge: the `store` config key, ASPIRE_DATABASE_URL, the password from a
// file / the environment / the URL, and the URL as logged (password as ***). Pure: no database.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkConfig } from '../src/config.ts';
import { checkStoreConfig, postgresConnection, withStoreEnv } from '../src/store/open-store.ts';
import { parseDatabaseUrl, redactDatabaseUrl } from '../src/store/postgres/connection.ts';
import { numberPlaceholders } from '../src/store/postgres/db.ts';

const dir = mkdtempSync(join(tmpdir(), 'aspire-storesel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('store selection', () => {
  it('no store key is SQLite; kind postgres needs a url; unknown keys and bad values are listed without the password', () => {
    expect(checkStoreConfig(undefined, [])).toEqual({ kind: 'sqlite' });
    expect(checkConfig({}, 'test').config.store).toEqual({ kind: 'sqlite' });
    const p: string[] = [];
    checkStoreConfig({ kind: 'postgres' }, p);
    checkStoreConfig({ kind: 'mysql' }, p);
    checkStoreConfig({ kind: 'postgres', url: 'mysql://u:hunter2@h/db', poolSize: 0, extra: 1 }, p);
    checkStoreConfig({ kind: 'postgres', url: 'postgres://u:hunter2@h' }, p);
    expect(p).toEqual([
      'store.url: required for kind "postgres" (postgres://user@host:port/database)',
      'store.kind: must be "sqlite" or "postgres"',
      'store.extra: unknown key for kind "postgres"',
      'store.url: scheme must be postgres:// (got mysql:)',
      'store.poolSize: must be an integer from 1 to 200',
      'store.url: names no database (postgres://user@host:port/DATABASE)',
    ]);
    expect(p.join('\n')).not.toContain('hunter2');
    expect(() => checkConfig({ store: { kind: 'postgres', url: 'postgres://u:hunter2@h' } }, 'test')).toThrow(
      /store\.url: names no database/,
    );
    expect(
      checkConfig({ store: { kind: 'postgres', url: 'postgres://u@db:6432/aspire', poolSize: 20 } }, 't').config.store,
    ).toEqual({
      kind: 'postgres',
      url: 'postgres://u@db:6432/aspire',
      poolSize: 20,
    });
  });

  it('ASPIRE_DATABASE_URL selects PostgreSQL and replaces the file url, keeping passwordFile', () => {
    expect(withStoreEnv(undefined, {})).toBeUndefined();
    expect(withStoreEnv({ kind: 'sqlite' }, { ASPIRE_DATABASE_URL: '' })).toEqual({ kind: 'sqlite' });
    expect(withStoreEnv(undefined, { ASPIRE_DATABASE_URL: 'postgres://a@b/c' })).toEqual({
      kind: 'postgres',
      url: 'postgres://a@b/c',
    });
    expect(
      withStoreEnv(
        { kind: 'postgres', url: 'postgres://x@y/z', passwordFile: '/p' },
        { ASPIRE_DATABASE_URL: 'postgres://a@b/c' },
      ),
    ).toEqual({
      kind: 'postgres',
      url: 'postgres://a@b/c',
      passwordFile: '/p',
    });
  });

  it('the password comes from the file, else ASPIRE_DATABASE_PASSWORD, else the URL; the logged URL shows ***', () => {
    const file = join(dir, 'pw');
    writeFileSync(file, 's3cret-file\n');
    const url = 'postgres://aspire:in%40url@db.example:5433/fleet';
    const base = { kind: 'postgres' as const, url, poolSize: 10 };
    expect(postgresConnection({ ...base, passwordFile: file }, { ASPIRE_DATABASE_PASSWORD: 'from-env' })).toEqual({
      host: 'db.example',
      port: 5433,
      database: 'fleet',
      user: 'aspire',
      password: 's3cret-file',
    });
    expect(postgresConnection(base, { ASPIRE_DATABASE_PASSWORD: 'from-env' }).password).toBe('from-env');
    expect(postgresConnection(base, {}).password).toBe('in@url');
    expect(postgresConnection({ ...base, url: 'postgres://aspire@db/fleet' }, {}).password).toBeUndefined();
    expect(() => postgresConnection({ ...base, passwordFile: join(dir, 'missing') }, {})).toThrow(
      /passwordFile .*ENOENT/,
    );
    expect(redactDatabaseUrl(url)).toBe('postgres://aspire:***@db.example:5433/fleet');
    expect(redactDatabaseUrl('postgres://aspire@db/fleet')).toBe('postgres://aspire@db/fleet');
    expect(redactDatabaseUrl('::not a url:: pw')).toBe('(unparsable database URL)');
    const sock = parseDatabaseUrl('postgres://aspire@localhost/fleet?host=/run/postgresql');
    expect(sock.ok && sock.target.connection.host).toBe('/run/postgresql');
  });

  it('? placeholders become $n outside quoted strings and identifiers', () => {
    expect(numberPlaceholders(`SELECT '?' AS "a?", x FROM t WHERE a = ? AND b IN (?, ?)`)).toBe(
      `SELECT '?' AS "a?", x FROM t WHERE a = $1 AND b IN ($2, $3)`,
    );
  });
});
