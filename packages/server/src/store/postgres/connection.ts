/**
 * A PostgreSQL URL checked once into connection settings. The password comes from a file
 * (`passwordFile`), the environment (ASPIRE_DATABASE_PASSWORD) or, last, the URL itself; it is
 * never part of what is logged: `redacted` is the URL with the password replaced by `***`.
 */
import { readFileSync } from 'node:fs';

export interface PgConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
}

export interface PgTarget {
  connection: PgConnection;
  /** The URL as it may be logged: password replaced by `***`. */
  redacted: string;
}

/** The URL with its password (if any) replaced by `***`; anything unparsable is hidden whole. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable database URL)';
  }
}

/**
 * Check a `postgres://user[:password]@host[:port]/database` URL (`?host=/run/postgresql` for a
 * socket directory). Problems are returned without the URL's password.
 */
export function parseDatabaseUrl(
  url: string,
  password: { file?: string; env?: string } = {},
): { ok: true; target: PgTarget } | { ok: false; problem: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, problem: 'not a URL (postgres://user@host:port/database)' };
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    return { ok: false, problem: `scheme must be postgres:// (got ${u.protocol})` };
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) return { ok: false, problem: 'names no database (postgres://user@host:port/DATABASE)' };
  const user = decodeURIComponent(u.username);
  if (!user) return { ok: false, problem: 'names no user (postgres://USER@host:port/database)' };
  const host = u.searchParams.get('host') ?? u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) return { ok: false, problem: 'names no host' };
  const port = u.port ? Number(u.port) : 5432;
  let secret: string | undefined;
  if (password.file !== undefined) {
    try {
      secret = readFileSync(password.file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      return {
        ok: false,
        problem: `passwordFile ${password.file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      };
    }
  } else if (password.env !== undefined && password.env !== '') secret = password.env;
  else if (u.password) secret = decodeURIComponent(u.password);
  const connection: PgConnection = {
    host,
    port,
    database,
    user,
    ...(secret !== undefined ? { password: secret } : {}),
  };
  return { ok: true, target: { connection, redacted: redactDatabaseUrl(url) } };
}
