// The audit log on a full disk, through buildServer and app.inject with the real SQLite store
// whose appendAudit fails as node:sqlite does when the disk is full (SQLITE_FULL): a result row
// that cannot be stored never replaces the route's answer (said once in the log, not per row),
// while a dispatch row that cannot be stored refuses the request with the 503 envelope and
// creates nothing (fail closed: every command sent is audited).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiStatus } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { buildServer, type AspireServer } from '../src/app.ts';
import { checkConfig } from '../src/config.ts';
import { sha256Hex } from '../src/http/secrets.ts';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite-store.ts';

const TOKEN = 'asp_audit-full-test-token-000000000';
const sqliteFull = () =>
  Object.assign(new Error('database or disk is full'), { code: 'ERR_SQLITE_ERROR', errcode: 13 });
const PAGE = { offset: 0, limit: 100, order: 'asc', sortby: 'id' } as const;

describe('audit rows on a full disk', () => {
  let dir: string;
  let store: SqliteStore;
  let server: AspireServer;
  let full = false;
  const lines: { msg: string; level: number; audit?: { stored?: boolean; phase?: string } }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aspire-audit-full-'));
    store = openSqliteStore(join(dir, 'aspire.db'));
    await store.createToken('ops', sha256Hex(TOKEN), 0);
    const append = store.appendAudit.bind(store);
    store.appendAudit = async (e) => {
      if (full) throw sqliteFull();
      return append(e);
    };
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
        done();
      },
    });
    const { config } = checkConfig({ dataDir: dir }, 'test');
    server = await buildServer({
      store,
      clock: new ManualClock(Date.UTC(2026, 0, 1)),
      logger: pino({ level: 'info' }, sink),
      config,
    });
    await server.app.ready();
    // The task's target must be a known host.
    const reg = await server.app.inject({
      method: 'POST',
      url: '/agent/register',
      payload: { hostname: 'h-1', agentsn: 'sn-1' },
    });
    expect(reg.statusCode).toBe(200);
  });
  afterAll(async () => {
    await server?.stop();
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const auth = { authorization: `Bearer ${TOKEN}` };
  const createTask = () =>
    server.app.inject({
      method: 'POST',
      url: '/api/v1/server/task',
      headers: auth,
      payload: { command: 'start', agents: ['sn-1'], parameters: { name: 'BasicAgent' } },
    });
  const fullLines = () => lines.filter((l) => /audit rows cannot be stored: the disk is full/.test(l.msg));

  it('a result row that cannot be stored keeps the route answer; the full disk is logged once', async () => {
    full = true;
    try {
      // A refusal, a 404 and a 400 of state-changing requests: each keeps its own envelope.
      const noToken = await server.app.inject({
        method: 'POST',
        url: '/api/v1/server/task/revoke',
        payload: { id: 1 },
      });
      expect(noToken.statusCode).toBe(401);
      expect(noToken.json()).toMatchObject({ status: ApiStatus.UNAUTHORIZED });
      const missing = await server.app.inject({
        method: 'POST',
        url: '/api/v1/server/task/revoke',
        headers: auth,
        payload: { id: 999 },
      });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toMatchObject({ status: ApiStatus.NOT_FOUND });
      const bad = await server.app.inject({
        method: 'POST',
        url: '/api/v1/server/task',
        headers: auth,
        payload: { command: 'start' },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ status: ApiStatus.BAD_REQUEST, cause: 'give exactly one of agents or tags' });
    } finally {
      full = false;
    }
    expect(fullLines()).toHaveLength(1);
    const unstored = lines.filter((l) => l.audit?.stored === false);
    expect(unstored.map((l) => l.audit?.phase)).toEqual(['result', 'result', 'result']);
    expect((await store.listAudit({}, PAGE)).items).toHaveLength(0);
  });

  it('a dispatch row that cannot be stored refuses the command with 503 and creates nothing', async () => {
    full = true;
    let refused: Awaited<ReturnType<typeof createTask>>;
    try {
      refused = await createTask();
    } finally {
      full = false;
    }
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ status: ApiStatus.UNAVAILABLE, cause: 'the server is out of disk space' });
    expect((await store.listTasks({}, PAGE)).items).toHaveLength(0);

    // Space is back: the same request goes out, with its dispatch and result rows stored.
    const sent = await createTask();
    expect(sent.statusCode).toBe(200);
    expect((await store.listTasks({}, PAGE)).items).toHaveLength(1);
    expect((await store.listAudit({}, PAGE)).items.map((r) => [r.phase, r.code])).toEqual([
      ['dispatch', null],
      ['result', 200],
    ]);
    expect(lines.some((l) => /audit rows are stored again/.test(l.msg))).toBe(true);
  });
});
