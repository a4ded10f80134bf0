// The desired-state part of the store (migration 007: product tree, host attachments, policies)
// run against both implementations: SQLite in a temp dir and a real PostgreSQL (startPostgres;
// never skipped). The tree rules refuse inside the store's transaction and write nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_POLICY_HASH } from '@aspire/protocol';
import { ManualClock, type PostgresHandle, startPostgres } from '@aspire/testing';
import { DesiredState } from '../../packages/server/src/policy/desired-state.ts';
import { PolicyRefusal } from '../../packages/server/src/policy/refusal.ts';
import { parseDatabaseUrl } from '../../packages/server/src/store/postgres/connection.ts';
import { copySqliteToPostgres } from '../../packages/server/src/store/postgres/copy-from-sqlite.ts';
import { openPostgresStore } from '../../packages/server/src/store/postgres/pg-store.ts';
import { openSqliteStore } from '../../packages/server/src/store/sqlite-store.ts';
import type { Store } from '../../packages/server/src/store/store.ts';

let pg: PostgresHandle;
let work: string;
let dbSeq = 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-policy-store-'));
  pg = await startPostgres();
}, 180_000);

afterAll(async () => {
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

type Opened = { store: Store; close(): Promise<void> };

const engines: { name: string; open(): Promise<Opened> }[] = [
  {
    name: 'sqlite',
    async open() {
      const s = openSqliteStore(join(work, `s${++dbSeq}.db`));
      return { store: s, close: async () => s.close() };
    },
  },
  {
    name: 'postgres',
    async open() {
      const name = `p${++dbSeq}`;
      await pg.createDatabase(name);
      const p = parseDatabaseUrl(pg.urlOf(name), { env: pg.password });
      if (!p.ok) throw new Error(p.problem);
      const s = await openPostgresStore(p.target.connection, { poolSize: 4 });
      return { store: s, close: () => s.close() };
    },
  },
];

/** The refusal a promise ends with (its reason word and status). */
async function refused(p: Promise<unknown>): Promise<{ reason: string; status: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof PolicyRefusal) return { reason: err.reason, status: err.status, message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

async function register(store: Store, sn: string): Promise<void> {
  await store.register({
    agentsn: sn,
    hostname: `h-${sn}`,
    ip: '127.0.0.1',
    newHash: `c-${sn}`,
    freshAgentsn: `${sn}-x`,
    now: 1,
  });
}

describe.each(engines)('policy store conformance: $name', (engine) => {
  let db: Opened;
  let store: Store;
  beforeAll(async () => {
    db = await engine.open();
    store = db.store;
  });
  afterAll(async () => db?.close());

  it('tree: kinds and parents, sibling names, moves, cycles, deletes; every change bumps the generation', async () => {
    const g0 = await store.policy.generation();
    const p = await store.policy.createNode({ kind: 'product', name: 'shop', parent: null, tags: null }, 10);
    const s = await store.policy.createNode({ kind: 'service', name: 'api', parent: p.id, tags: null }, 11);
    const c = await store.policy.createNode({ kind: 'component', name: 'db', parent: s.id, tags: 'role=db' }, 12);
    expect(c).toMatchObject({ kind: 'component', name: 'db', parent: s.id, tags: 'role=db', gmt_create: 12 });
    expect(await store.policy.generation()).toBe(g0 + 3);
    await store.policy.bumpGeneration();
    expect(await store.policy.generation()).toBe(g0 + 4);

    expect(
      await refused(store.policy.createNode({ kind: 'service', name: 'x', parent: null, tags: null }, 13)),
    ).toMatchObject({
      reason: 'tree_parent_required',
      status: 'BAD_REQUEST',
    });
    expect(
      (await refused(store.policy.createNode({ kind: 'component', name: 'x', parent: p.id, tags: null }, 13))).reason,
    ).toBe('tree_parent_kind');
    expect(
      (await refused(store.policy.createNode({ kind: 'product', name: 'x', parent: p.id, tags: null }, 13))).reason,
    ).toBe('tree_parent_kind');
    expect(
      await refused(store.policy.createNode({ kind: 'service', name: 'api', parent: p.id, tags: null }, 13)),
    ).toMatchObject({ reason: 'tree_name_taken', status: 'CONFLICT' });
    expect(
      (await refused(store.policy.createNode({ kind: 'service', name: 'y', parent: 9999, tags: null }, 13))).status,
    ).toBe('NOT_FOUND');
    expect(
      (await refused(store.policy.createNode({ kind: 'service', name: 'y', parent: p.id, tags: 'a=b' }, 13))).reason,
    ).toBe('tree_tags');
    // The same name under another parent is fine.
    const p2 = await store.policy.createNode({ kind: 'product', name: 'blog', parent: null, tags: null }, 14);
    const s2 = await store.policy.createNode({ kind: 'service', name: 'api', parent: p2.id, tags: null }, 15);

    // A cycle is refused before the kind rule: the product under its own component.
    expect(await refused(store.policy.updateNode(p.id, { parent: c.id }, 16))).toMatchObject({ reason: 'tree_cycle' });
    expect((await refused(store.policy.updateNode(s.id, { parent: s.id }, 16))).reason).toBe('tree_cycle');
    // A move to a parent of the right kind, and the name rule at the new place.
    expect((await refused(store.policy.updateNode(s2.id, { parent: p.id }, 16))).reason).toBe('tree_name_taken');
    const moved = await store.policy.updateNode(c.id, { parent: s2.id, tags: null }, 17);
    expect(moved).toMatchObject({ parent: s2.id, tags: null, gmt_modify: 17 });
    const gBefore = await store.policy.generation();
    expect((await refused(store.policy.deleteNode(s2.id))).reason).toBe('tree_not_empty');
    expect(await store.policy.generation()).toBe(gBefore);
    await store.policy.deleteNode(c.id);
    expect((await store.policy.listNodes()).map((n) => n.id)).toEqual([p.id, s.id, p2.id, s2.id]);
  });

  it('hosts: explicit attachment to a component, one component a host (move), unknown hosts, tags', async () => {
    for (const sn of ['h1', 'h2', 'h3']) await register(store, sn);
    const p = await store.policy.createNode({ kind: 'product', name: 'p-hosts', parent: null, tags: null }, 1);
    const s = await store.policy.createNode({ kind: 'service', name: 's', parent: p.id, tags: null }, 1);
    const c1 = await store.policy.createNode({ kind: 'component', name: 'c1', parent: s.id, tags: null }, 1);
    const c2 = await store.policy.createNode({ kind: 'component', name: 'c2', parent: s.id, tags: null }, 1);
    expect(await store.policy.attachHosts(c1.id, ['h1', 'h2', 'h1'], false, 5)).toEqual({ attached: 2 });
    expect(await store.policy.componentHosts(c1.id)).toEqual(['h1', 'h2']);
    expect(await store.policy.hostCounts()).toEqual(new Map([[c1.id, 2]]));
    expect((await refused(store.policy.attachHosts(s.id, ['h3'], false, 5))).reason).toBe('host_not_component');
    expect(await refused(store.policy.attachHosts(c2.id, ['h3', 'nope'], false, 5))).toMatchObject({
      reason: 'host_unknown',
    });
    expect(await store.policy.explicitComponent('h3')).toBeUndefined();
    const second = await refused(store.policy.attachHosts(c2.id, ['h2', 'h3'], false, 5));
    expect(second.reason).toBe('host_second_component');
    expect(second.message).toContain('h2');
    expect(await store.policy.explicitComponent('h3')).toBeUndefined();
    expect(await store.policy.attachHosts(c2.id, ['h2', 'h3'], true, 6)).toEqual({ attached: 2 });
    expect(await store.policy.explicitComponent('h2')).toBe(c2.id);
    expect(await store.policy.detachHost(c2.id, 'h2', 7)).toBe(1);
    expect(await store.policy.detachHost(c2.id, 'h2', 7)).toBe(0);
    expect(await store.policy.explicitComponent('h2')).toBeUndefined();
    expect(await store.policy.hostTags('h1')).toEqual({ reported: '', bound: [] });
    expect(await store.policy.hostTags('nope')).toBeUndefined();
  });

  it('policies: put, get, replace, list, delete per scope; node and host must exist', async () => {
    const doc = {
      subagents: [{ name: 'BasicAgent', version: '1.0.0' }],
      periodic: [{ name: 't', remove: true as const }],
    };
    const row = await store.policy.putPolicy('root', doc, 100);
    expect(row).toMatchObject({ scope: 'root', document: doc, gmt_create: 100, gmt_modify: 100 });
    const again = await store.policy.putPolicy('root', { periodic: [] }, 200);
    expect(again).toMatchObject({ document: { periodic: [] }, gmt_create: 100, gmt_modify: 200 });
    expect((await refused(store.policy.putPolicy('node:99999', doc, 1))).reason).toBe('tree_not_found');
    expect((await refused(store.policy.putPolicy('host:nope', doc, 1))).reason).toBe('host_unknown');
    await register(store, 'hp');
    await store.policy.putPolicy('host:hp', doc, 300);
    expect((await store.policy.listPolicies()).map((p) => p.scope)).toEqual(['host:hp', 'root']);
    expect((await store.policy.getPolicy('host:hp'))?.document).toEqual(doc);
    expect(await store.policy.deletePolicy('host:hp', 400)).toBe(1);
    expect(await store.policy.deletePolicy('host:hp', 400)).toBe(0);
    expect(await store.policy.getPolicy('host:hp')).toBeUndefined();
    // A node's policy goes with the node.
    const p = await store.policy.createNode({ kind: 'product', name: 'p-pol', parent: null, tags: null }, 1);
    await store.policy.putPolicy(`node:${p.id}`, doc, 500);
    await store.policy.deleteNode(p.id);
    expect(await store.policy.getPolicy(`node:${p.id}`)).toBeUndefined();
  });
});

describe('aspire migrate (SQLite -> PostgreSQL) carries the tree, attachments and policies', () => {
  it('copies a node moved under a younger parent, the attachments and every policy; ids continue after the copy', async () => {
    const dir = mkdtempSync(join(work, 'migrate-'));
    const src = openSqliteStore(join(dir, 'aspire.db'));
    await register(src, 'm1');
    const p1 = await src.policy.createNode({ kind: 'product', name: 'p1', parent: null, tags: null }, 1);
    const s1 = await src.policy.createNode({ kind: 'service', name: 's1', parent: p1.id, tags: null }, 1);
    const c1 = await src.policy.createNode({ kind: 'component', name: 'c1', parent: s1.id, tags: 'a=b' }, 1);
    const s2 = await src.policy.createNode({ kind: 'service', name: 's2', parent: p1.id, tags: null }, 1);
    // c1 now sits under a service younger than itself.
    await src.policy.updateNode(c1.id, { parent: s2.id }, 2);
    await src.policy.attachHosts(c1.id, ['m1'], false, 3);
    await src.policy.putPolicy(
      'root',
      { periodic: [{ name: 'x', user: 'root', schedule: '@hourly', command: 'true' }] },
      4,
    );
    await src.policy.putPolicy(`node:${c1.id}`, { subagents: [{ name: 'A', remove: true }] }, 4);
    const generation = await src.policy.generation();
    src.close();

    await pg.createDatabase('migrated');
    const p = parseDatabaseUrl(pg.urlOf('migrated'), { env: pg.password });
    if (!p.ok) throw new Error(p.problem);
    const report = await copySqliteToPostgres({ fromDataDir: dir, to: p.target.connection, dbFile: 'aspire.db' });
    const counts = Object.fromEntries(report.counts.map((c) => [c.table, [c.source, c.target]]));
    expect(counts.tree_nodes).toEqual([4, 4]);
    expect(counts.host_components).toEqual([1, 1]);
    expect(counts.policies).toEqual([2, 2]);
    const dst = await openPostgresStore(p.target.connection, { poolSize: 2 });
    try {
      expect((await dst.policy.listNodes()).find((n) => n.id === c1.id)).toMatchObject({ parent: s2.id, tags: 'a=b' });
      expect(await dst.policy.explicitComponent('m1')).toBe(c1.id);
      expect((await dst.policy.getPolicy(`node:${c1.id}`))?.document).toEqual({
        subagents: [{ name: 'A', remove: true }],
      });
      expect(await dst.policy.generation()).toBe(generation);
      const next = await dst.policy.createNode({ kind: 'product', name: 'p2', parent: null, tags: null }, 5);
      expect(next.id).toBeGreaterThan(s2.id);
    } finally {
      await dst.close();
    }
  });
});

describe('effective-policy cache across two servers on one PostgreSQL', () => {
  it("a change made through one server is seen by the other's status replies after the generation check; a host's hash follows its tags", async () => {
    await pg.createDatabase('shared');
    const p = parseDatabaseUrl(pg.urlOf('shared'), { env: pg.password });
    if (!p.ok) throw new Error(p.problem);
    const a = await openPostgresStore(p.target.connection, { poolSize: 2 });
    const b = await openPostgresStore(p.target.connection, { poolSize: 2 });
    try {
      const clock = new ManualClock();
      const onB = new DesiredState(b, clock);
      await register(a, 'x1');
      expect(await onB.hashFor('x1', '')).toBe(EMPTY_POLICY_HASH);
      await a.policy.putPolicy(
        'root',
        { periodic: [{ name: 't', user: 'root', schedule: '@hourly', command: 'a' }] },
        1,
      );
      // Within the second the generation was read, B still answers what it had.
      expect(await onB.hashFor('x1', '')).toBe(EMPTY_POLICY_HASH);
      await clock.advance(1001);
      const rootOnly = await onB.hashFor('x1', '');
      expect(rootOnly).not.toBe(EMPTY_POLICY_HASH);
      expect(rootOnly).toBe((await onB.effectiveFor('x1')).hash);

      // A component taking hosts by tag, with its own policy: x1 reports the tag in its next push.
      const prod = await a.policy.createNode({ kind: 'product', name: 'p', parent: null, tags: null }, 2);
      const svc = await a.policy.createNode({ kind: 'service', name: 's', parent: prod.id, tags: null }, 2);
      const comp = await a.policy.createNode({ kind: 'component', name: 'c', parent: svc.id, tags: 'role=db' }, 2);
      await a.policy.putPolicy(`node:${comp.id}`, { periodic: [{ name: 't', remove: true }] }, 3);
      await clock.advance(1001);
      expect(await onB.hashFor('x1', '')).toBe(rootOnly);
      await a.ingestStatus({
        agentsn: 'x1',
        hostname: 'h-x1',
        ip: '127.0.0.1',
        version: '1',
        os: 'linux',
        arch: 'x86_64',
        uptime: 1,
        step: 60,
        agents: [],
        jobs: [],
        events: [],
        tags: 'role=db',
        now: 4,
      });
      // The reported tags key the host's cache entry: the new tags are read at once.
      expect(await onB.hashFor('x1', 'role=db')).toBe(EMPTY_POLICY_HASH);
      expect((await onB.effectiveFor('x1')).component).toMatchObject({ component: comp.id, by: 'tag' });
    } finally {
      await a.close();
      await b.close();
    }
  });
});
