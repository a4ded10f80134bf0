/**
 * Which store a server (or a CLI command) opens: SQLite in the data dir (the default, one node)
 * or PostgreSQL (several nodes, docs/scale.md). Selected by the config key
 *
 *   "store": { "kind": "postgres", "url": "postgres://aspire@db:5432/aspire", "passwordFile": "/etc/aspire/db.pass" }
 *
 * or by ASPIRE_DATABASE_URL (which wins over the file, as a deployment's environment does). The
 * password comes from `passwordFile`, else ASPIRE_DATABASE_PASSWORD, else the URL; what is
 * logged (`describe`) has the password replaced by `***`.
 */
import { join } from 'node:path';
import type { Store } from './store.ts';
import { openSqliteStore } from './sqlite-store.ts';
import { parseDatabaseUrl, redactDatabaseUrl, type PgConnection } from './postgres/connection.ts';
import { openPostgresStore } from './postgres/pg-store.ts';

export const DB_FILE = 'aspire.db';

export type StoreConfig =
  | { kind: 'sqlite' }
  | { kind: 'postgres'; url: string; passwordFile?: string; poolSize: number };

export const POOL_SIZE = { min: 1, max: 200, default: 10 } as const;

/** The environment variables the store selection reads (only main.ts passes them in). */
export interface StoreEnv {
  ASPIRE_DATABASE_URL?: string | undefined;
  ASPIRE_DATABASE_PASSWORD?: string | undefined;
}

/**
 * The raw `store` value merged with ASPIRE_DATABASE_URL, for the config check: an env URL
 * selects PostgreSQL and replaces the file's url (the file's passwordFile/poolSize stay).
 */
export function withStoreEnv(raw: unknown, env: StoreEnv): unknown {
  const url = env.ASPIRE_DATABASE_URL;
  if (url === undefined || url === '') return raw;
  const base = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  return { ...base, kind: 'postgres', url };
}

/** Check the `store` config value; problems are pushed (never with the URL's password). */
export function checkStoreConfig(raw: unknown, problems: string[]): StoreConfig {
  if (raw === undefined) return { kind: 'sqlite' };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push('store: must be an object {"kind": "sqlite"} or {"kind": "postgres", "url": ...}');
    return { kind: 'sqlite' };
  }
  const r = raw as Record<string, unknown>;
  const allowed = r.kind === 'postgres' ? ['kind', 'url', 'passwordFile', 'poolSize'] : ['kind'];
  for (const k of Object.keys(r))
    if (!allowed.includes(k)) problems.push(`store.${k}: unknown key for kind ${JSON.stringify(r.kind)}`);
  if (r.kind === 'sqlite') return { kind: 'sqlite' };
  if (r.kind !== 'postgres') {
    problems.push('store.kind: must be "sqlite" or "postgres"');
    return { kind: 'sqlite' };
  }
  if (typeof r.url !== 'string' || r.url === '') {
    problems.push('store.url: required for kind "postgres" (postgres://user@host:port/database)');
    return { kind: 'sqlite' };
  }
  const parsed = parseDatabaseUrl(r.url);
  if (!parsed.ok) problems.push(`store.url: ${parsed.problem}`);
  if (r.passwordFile !== undefined && (typeof r.passwordFile !== 'string' || r.passwordFile === ''))
    problems.push('store.passwordFile: must be a file path');
  let poolSize: number = POOL_SIZE.default;
  if (r.poolSize !== undefined) {
    if (
      typeof r.poolSize !== 'number' ||
      !Number.isInteger(r.poolSize) ||
      r.poolSize < POOL_SIZE.min ||
      r.poolSize > POOL_SIZE.max
    ) {
      problems.push(`store.poolSize: must be an integer from ${POOL_SIZE.min} to ${POOL_SIZE.max}`);
    } else poolSize = r.poolSize;
  }
  return {
    kind: 'postgres',
    url: r.url,
    poolSize,
    ...(typeof r.passwordFile === 'string' && r.passwordFile ? { passwordFile: r.passwordFile } : {}),
  };
}

export interface OpenedStore {
  store: Store & { close(): void | Promise<void> };
  /** What to log: `sqlite <file>` or `postgres <url with the password as ***>`. */
  describe: string;
  /** The PostgreSQL connection (with its password) when the store is PostgreSQL: the cluster layer reuses it. */
  postgres?: PgConnection;
}

/** The PostgreSQL connection of a checked store config (password from file, env or URL). */
export function postgresConnection(store: Extract<StoreConfig, { kind: 'postgres' }>, env: StoreEnv): PgConnection {
  const parsed = parseDatabaseUrl(store.url, {
    ...(store.passwordFile !== undefined ? { file: store.passwordFile } : {}),
    ...(env.ASPIRE_DATABASE_PASSWORD !== undefined ? { env: env.ASPIRE_DATABASE_PASSWORD } : {}),
  });
  if (!parsed.ok) throw new Error(`store: ${parsed.problem}`);
  return parsed.target.connection;
}

/** Open the selected store; PostgreSQL migrations run here (under an advisory lock). */
export async function openStore(
  config: { dataDir: string; store?: StoreConfig },
  env: StoreEnv = {},
): Promise<OpenedStore> {
  const sel = config.store ?? { kind: 'sqlite' };
  if (sel.kind === 'sqlite') {
    const file = join(config.dataDir, DB_FILE);
    return { store: openSqliteStore(file), describe: `sqlite ${file}` };
  }
  const connection = postgresConnection(sel, env);
  const describe = `postgres ${redactDatabaseUrl(sel.url)}`;
  try {
    return { store: await openPostgresStore(connection, { poolSize: sel.poolSize }), describe, postgres: connection };
  } catch (err) {
    // pg's errors name no password; say which database could not be opened.
    throw new Error(`cannot open store ${describe}: ${(err as Error).message}`, { cause: err });
  }
}
