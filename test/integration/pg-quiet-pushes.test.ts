// Quiet status pushes on the PostgreSQL store (packages/server/src/store/postgres/quiet-pushes.ts):
// a steady push costs one statement (the credential check's read serves its ingestion) and no transaction, its last_seen/uptime are held and written
// later in one multi-row UPDATE, and nothing another node changes is hidden by that: a task or tag
// task made on node B reaches a quiet push on node A, as do B's revoke, offline sweep and delete.
// Two stores on one database stand for two nodes. A real PostgreSQL (packages/testing); never skipped.
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresHandle } from '@aspire/testing';
import { parseDatabaseUrl } from '../../packages/server/src/store/postgres/connection.ts';
import { openPostgresStore, type PostgresStore } from '../../packages/server/src/store/postgres/pg-store.ts';
import type { StatusInput } from '../../packages/server/src/store/store.ts';

let pg: PostgresHandle;
let seq = 0;

beforeAll(async () => {
  pg = await startPostgres();
}, 180_000);

afterAll(async () => {
  await pg?.stop();
});

function push(agentsn: string, now: number, extra: Partial<StatusInput> = {}): StatusInput {
  return {
    agentsn,
    hostname: `host-${agentsn}`,
    ip: '127.0.0.1',
    version: '1.0.0',
    os: 'linux',
    arch: 'x86_64',
    uptime: Math.floor(now / 1000),
    step: 60,
    agents: [{ name: 'BasicAgent', version: '1.0.0', status: 'running' } as never],
    jobs: [],
    events: [],
    tags: 'svc=web',
    now,
    ...extra,
  };
}

const spec = (over: Record<string, unknown>) => ({
  command: 'sync.bash',
  parameters: { cmd: 'true' },
  delayMs: 0,
  batch: 0,
  retryCount: 0,
  retryIntervalMs: 0,
  ttlMs: 0,
  ttrMs: 60_000,
  ...over,
});

/**
 * Statements a store sends outside a transaction (pool.query) and clients it takes for one
 * (pool.connect; pool.query takes one too, synchronously inside its call: not counted).
 */
function countStatements(s: PostgresStore): { queries: number; transactions: number } {
  const n = { queries: 0, transactions: 0 };
  const pool = s.pool;
  const query = pool.query.bind(pool);
  const connect = pool.connect.bind(pool);
  let inQuery = false;
  pool.query = ((...args: Parameters<typeof query>) => {
    n.queries++;
    inQuery = true;
    try {
      return query(...args);
    } finally {
      inQuery = false;
    }
  }) as typeof pool.query;
  pool.connect = ((...args: Parameters<typeof connect>) => {
    if (!inQuery) n.transactions++;
    return connect(...args);
  }) as typeof pool.connect;
  return n;
}

describe('PostgreSQL quiet pushes', () => {
  let a: PostgresStore;
  let b: PostgresStore;
  let dbName: string;

  beforeEach(async () => {
    dbName = `q${++seq}`;
    await pg.createDatabase(dbName);
    const p = parseDatabaseUrl(pg.urlOf(dbName), { env: pg.password });
    if (!p.ok) throw new Error(p.problem);
    a = await openPostgresStore(p.target.connection, { poolSize: 3 });
    b = await openPostgresStore(p.target.connection, { poolSize: 3 });
    for (const sn of ['h1', 'h2']) {
      await a.register({
        agentsn: sn,
        hostname: `host-${sn}`,
        ip: '127.0.0.1',
        newHash: 'x',
        freshAgentsn: `${sn}-f`,
        now: 1000,
      });
      // The first push writes the row; from then on the same fields are a quiet push.
      await a.ingestStatus(push(sn, 2000));
    }
  });

  afterEach(async () => {
    await a?.close();
    await b?.close();
  });

  it('a steady push is one statement (its credential check), no transaction; its last_seen is held, read back on its node, written by a flush or close', async () => {
    const n = countStatements(a);
    // As the status route asks: the credential, the push, the revoked jobs.
    expect(await a.credentialHash('h1')).toBe('x');
    const out = await a.ingestStatus(push('h1', 5000));
    expect(out.reserved).toEqual([]);
    expect(await a.revokedReserved('h1')).toEqual([]);
    expect(n).toEqual({ queries: 1, transactions: 0 });
    // Without the credential read before it, the push reads for itself: still one.
    await a.ingestStatus(push('h1', 5000));
    expect(await a.revokedReserved('h1')).toEqual([]);
    expect(n).toEqual({ queries: 2, transactions: 0 });
    // This node's reads write what it holds first.
    expect((await a.getHost('h1'))!).toMatchObject({ last_seen: 5000, uptime: 5, status: 'online' });
    await a.ingestStatus(push('h1', 6000));
    await a.ingestStatus(push('h2', 6500));
    await a.flushSeen();
    expect((await b.getHost('h1'))!.last_seen).toBe(6000);
    expect((await b.getHost('h2'))!.last_seen).toBe(6500);
    // An older held value never overwrites a newer stored one.
    await b.ingestStatus(push('h1', 9000));
    await b.flushSeen();
    await a.ingestStatus(push('h1', 8000));
    await a.close();
    expect((await b.getHost('h1'))!.last_seen).toBe(9000);
  });

  it('a held push whose write fails stays held and is written by the next flush', async () => {
    await a.ingestStatus(push('h1', 7000));
    // The table away for a moment (this store has not prepared its flush statement yet).
    await pg.psql('ALTER TABLE hosts RENAME TO hosts_away', dbName);
    await expect(a.flushSeen()).rejects.toThrow(/hosts/);
    await pg.psql('ALTER TABLE hosts_away RENAME TO hosts', dbName);
    await a.flushSeen();
    expect((await b.getHost('h1'))!.last_seen).toBe(7000);
  });

  it('a field that changed is one UPDATE; a rename takes the full write', async () => {
    const n = countStatements(a);
    await a.ingestStatus(push('h1', 5000, { version: '1.1.0' }));
    expect(n).toEqual({ queries: 2, transactions: 0 });
    expect((await b.getHost('h1'))!).toMatchObject({ curvers: '1.1.0', prevers: '1.0.0', last_seen: 5000 });
    // Renamed onto h2's hostname: refused, the old one kept (full write, one transaction).
    await a.ingestStatus(push('h1', 6000, { version: '1.1.0', hostname: 'host-h2' }));
    expect(n.transactions).toBe(1);
    expect((await b.getHost('h1'))!.hostname).toBe('host-h1');
  });

  it("another node's task, tag task and revoke reach a steady push at once", async () => {
    const { id } = (await b.createTask(spec({ agents: ['h1'] }) as never, 3000)) as { id: number };
    const got = await a.ingestStatus(push('h1', 4000));
    expect(got.reserved.map((r) => r.taskid)).toEqual([id]);
    // A tag task that does not match h2 leaves its push quiet; one that matches is joined.
    await b.createTask(spec({ tags: 'svc=db', windowStart: 0, windowEnd: 1e12 }) as never, 3000);
    const n = countStatements(a);
    expect((await a.ingestStatus(push('h2', 4000))).reserved).toEqual([]);
    expect(n.transactions).toBe(0);
    const tag = (await b.createTask(spec({ tags: 'role=cache', windowStart: 0, windowEnd: 1e12 }) as never, 3000)) as {
      id: number;
    };
    const joined = await a.ingestStatus(push('h2', 5000, { tags: 'svc=web,role=cache' }));
    expect(joined.reserved.map((r) => r.taskid)).toEqual([tag.id]);
    // h1's job is revoked on B while RESERVED: A's next reply tells it.
    expect((await b.revokeTask(id, 5000)).ok).toBe(true);
    expect((await a.ingestStatus(push('h1', 6000))).reserved).toEqual([]);
    expect((await a.revokedReserved('h1')).map((r) => r.jobid)).toEqual([got.reserved[0]!.jobid]);
  });

  it("a host B marked offline or deleted is online again at A's next steady push", async () => {
    expect(await b.markOffline(2000 + 60_000 * 3 + 1, 3)).toBe(2);
    await a.ingestStatus(push('h1', 200_000));
    expect((await b.getHost('h1'))!).toMatchObject({ status: 'online', last_seen: 200_000, gmt_modify: 200_000 });
    expect((await b.deleteHost('h2', 200_000)).ok).toBe(true);
    await a.ingestStatus(push('h2', 201_000));
    expect((await b.getHost('h2'))!.status).toBe('online');
    // The sweep on A judges h1 by the push A holds (300 s), not by the stored one (200 s): only h2 goes.
    await a.ingestStatus(push('h1', 300_000));
    expect(await a.markOffline(300_000 + 60_000 * 3 - 1, 3)).toBe(1);
    expect((await b.getHost('h1'))!).toMatchObject({ status: 'online', last_seen: 300_000 });
    expect((await b.getHost('h2'))!.status).toBe('offline');
  });
});
