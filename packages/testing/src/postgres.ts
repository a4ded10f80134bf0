/**
 * A throwaway PostgreSQL for tests: `initdb` in a temp dir, the server on a free loopback port
 * (and its socket in the same dir), a password (scram-sha-256) so the password paths are real,
 * stopped and removed by stop(). PostgreSQL refuses to run as root: as root, initdb/pg_ctl run
 * as the `postgres` user (`runuser -u postgres --`, the temp dir chowned to it).
 *
 * A missing PostgreSQL is an error, never a skip: scripts/setup.sh installs Debian's
 * `postgresql` (CI runs it).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PostgresHandle {
  /** postgres://postgres@127.0.0.1:PORT/aspire (no password in it). */
  url: string;
  /** The same URL with the password in it. */
  urlWithPassword: string;
  /** URL of another database on the same server (see createDatabase). */
  urlOf(database: string): string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  dir: string;
  /** Create an empty database (owner: the superuser). */
  createDatabase(name: string): Promise<void>;
  /** Run one SQL statement through psql; stdout (unaligned, tuples only). */
  psql(sql: string, database?: string): Promise<string>;
  stop(): Promise<void>;
}

/** Newest /usr/lib/postgresql/<major>/bin holding initdb and pg_ctl. */
export function postgresBinDir(): string {
  const base = '/usr/lib/postgresql';
  const majors = existsSync(base)
    ? readdirSync(base)
        .filter(
          (d) =>
            /^\d+$/.test(d) && existsSync(join(base, d, 'bin', 'initdb')) && existsSync(join(base, d, 'bin', 'pg_ctl')),
        )
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) {
    throw new Error(
      'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/setup.sh (apt-get install postgresql)',
    );
  }
  return join(base, majors[0]!, 'bin');
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

export async function startPostgres(opts: { database?: string } = {}): Promise<PostgresHandle> {
  const bin = postgresBinDir();
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'aspire-pg-'));
  const data = join(dir, 'data');
  const password = randomBytes(12).toString('hex');
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (asRoot) {
    const { uid, gid } = await postgresIds();
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  // Every PostgreSQL program runs as the postgres user when we are root; arguments go as an argv.
  const pgRun = (prog: string, args: string[], env?: NodeJS.ProcessEnv) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(bin, prog), ...args], { env })
      : run(join(bin, prog), args, { env });
  const user = 'postgres';
  await pgRun('initdb', [
    '-D',
    data,
    '-U',
    user,
    '-A',
    'scram-sha-256',
    `--pwfile=${pwfile}`,
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  rmSync(pwfile, { force: true });
  const port = await freeLoopbackPort();
  const options = `-h 127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`;
  await pgRun('pg_ctl', ['-D', data, '-l', join(dir, 'postgres.log'), '-o', options, '-w', '-t', '120', 'start']);
  const host = '127.0.0.1';
  const database = opts.database ?? 'aspire';
  const env = { ...process.env, PGPASSWORD: password };
  const psql = async (sql: string, db = 'postgres') =>
    (
      await run(
        join(bin, 'psql'),
        [
          '-X',
          '-q',
          '-A',
          '-t',
          '-v',
          'ON_ERROR_STOP=1',
          '-h',
          host,
          '-p',
          String(port),
          '-U',
          user,
          '-d',
          db,
          '-c',
          sql,
        ],
        { env },
      )
    ).stdout;
  const createDatabase = async (name: string) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name}: lower-case letters, digits, _`);
    await psql(`CREATE DATABASE ${name}`);
  };
  await createDatabase(database);
  let stopped = false;
  const urlOf = (db: string) => `postgres://${user}@${host}:${port}/${db}`;
  return {
    url: urlOf(database),
    urlWithPassword: `postgres://${user}:${password}@${host}:${port}/${database}`,
    urlOf,
    host,
    port,
    user,
    password,
    database,
    dir,
    createDatabase,
    psql,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pgRun('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
