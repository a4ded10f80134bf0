// The real `aspire` server on a real PostgreSQL (startPostgres: Debian's postgresql in a temp
// dir on a free loopback port), selected by ASPIRE_DATABASE_URL with the password in the URL:
// migrations at start, a real BootAgent registers and pushes (host online), the operator
// token made by the real `aspire token create` lives in PostgreSQL, the password never
// reaches the output. Then `aspire migrate` moves a real single-node SQLite deployment
// (hosts, tags, region, package and its file, task, events, tokens, audit) onto PostgreSQL
// and a server started on it serves all of it.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  binary,
  startAspire,
  startBoot,
  startPostgres,
  waitUntil,
  type AspireHandle,
  type BootHandle,
  type PostgresHandle,
} from '@aspire/testing';

const run = promisify(execFile);

let pg: PostgresHandle;
let work: string;
const stopLater: { stop(): Promise<unknown> }[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-srvpg-'));
  pg = await startPostgres();
}, 180_000);

afterAll(async () => {
  for (const s of stopLater.reverse()) await s.stop().catch(() => undefined);
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function bootOnline(srv: AspireHandle): Promise<{ boot: BootHandle; agentsn: string }> {
  const boot = await startBoot({
    serverUrl: srv.url,
    enrollSecret: srv.enrollSecret,
    step: 1,
    config: { tags: 'svc=pg' },
  });
  stopLater.push({ stop: async () => (await boot.stop(), boot.cleanup()) });
  const meta = await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta() : undefined), {
    timeoutMs: 30_000,
    what: 'boot registered and trusted',
  });
  const host = await waitUntil(
    async () => {
      const h = (await srv.api('GET', `/api/v1/server/agent?agentsn=${meta.agentsn}`)).body?.host;
      return h?.status === 'online' ? h : undefined;
    },
    { timeoutMs: 30_000, what: 'host online', intervalMs: 200 },
  );
  expect(host).toMatchObject({ agentsn: meta.agentsn, reported_tags: 'svc=pg', step: 1 });
  return { boot, agentsn: meta.agentsn };
}

describe('aspire on PostgreSQL', () => {
  it('ASPIRE_DATABASE_URL selects PostgreSQL: migrations applied, a real BootAgent goes online, the token lives in PostgreSQL, no password in the output', async () => {
    await pg.createDatabase('serve1');
    const url = `postgres://${pg.user}:${pg.password}@${pg.host}:${pg.port}/serve1`;
    const env = { ...process.env, ASPIRE_DATABASE_URL: url };
    const srv = await startAspire({ env });
    stopLater.push(srv);
    const { agentsn } = await bootOnline(srv);
    // The rows are in PostgreSQL, not in a SQLite file of the data dir.
    expect((await pg.psql(`SELECT status FROM hosts WHERE agentsn = '${agentsn}'`, 'serve1')).trim()).toBe('online');
    expect((await pg.psql(`SELECT name FROM tokens`, 'serve1')).trim()).toBe('test');
    expect((await pg.psql('SELECT MAX(version) FROM schema_migrations', 'serve1')).trim()).toMatch(/^\d+$/);
    // A second token through the real CLI reaches the same database and works at once.
    const viewer = await srv.createToken('viewer1', ['--role', 'viewer']);
    expect((await srv.api('GET', '/api/v1/server/host?limit=10', undefined, { token: viewer })).status).toBe(200);
    const list = await run(
      binary('aspire').cmd,
      [...binary('aspire').args, 'token', 'list', '--data-dir', srv.dataDir],
      { env },
    );
    expect(list.stdout).toMatch(/^viewer1\t/m);
    // Logged as ***, never the password.
    expect(srv.child.output).toContain(`postgres://${pg.user}:***@${pg.host}:${pg.port}/serve1`);
    expect(srv.child.output).not.toContain(pg.password);
    expect(list.stdout + list.stderr).not.toContain(pg.password);
    await srv.stop();
  });

  it('store.passwordFile in the config: the URL carries no password; a wrong one fails the start with one line and no password', async () => {
    await pg.createDatabase('serve2');
    const pwFile = join(work, 'db.pass');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(pwFile, `${pg.password}\n`, { mode: 0o600 });
    const store = { kind: 'postgres', url: pg.urlOf('serve2'), passwordFile: pwFile };
    // token create reads the store from the same config file (--config).
    const dataDir = mkdtempSync(join(tmpdir(), 'aspire-srvpg-dd-'));
    const cfg = join(dataDir, 'pg.json');
    writeFileSync(cfg, JSON.stringify({ dataDir, store }));
    const created = await run(binary('aspire').cmd, [
      ...binary('aspire').args,
      'token',
      'create',
      '--config',
      cfg,
      '--name',
      'filetoken',
    ]);
    expect(created.stdout.trim()).toMatch(/^\S{20,}$/);
    expect((await pg.psql(`SELECT name FROM tokens`, 'serve2')).trim()).toBe('filetoken');

    writeFileSync(pwFile, 'wrong-password\n');
    const bad = await run(binary('aspire').cmd, [
      ...binary('aspire').args,
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--config',
      cfg,
    ]).then(
      () => undefined,
      (e: { code: number; stderr: string; stdout: string }) => e,
    );
    expect(bad?.code).toBe(1);
    expect(bad?.stderr).toMatch(/password authentication failed/);
    expect(bad?.stderr).not.toContain('wrong-password');
    expect(bad?.stderr).not.toContain(pg.password);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('aspire migrate: a real SQLite deployment moves onto PostgreSQL with every count verified; a server on it serves hosts, tags, the package file, tasks, events, tokens and audit', async () => {
    const src = await startAspire({ keepDataDir: true });
    stopLater.push({ stop: async () => rmSync(src.dataDir, { recursive: true, force: true }) });
    const { boot, agentsn } = await bootOnline(src);
    const tag = await src.api('POST', '/api/v1/server/tag', { name: 'role', value: 'db' });
    expect(tag.status, JSON.stringify(tag.body)).toBe(200);
    const region = await src.api('POST', '/api/v1/server/region', { name: 'eu-west' });
    expect(region.status, JSON.stringify(region.body)).toBe(200);
    const data = Buffer.from('package bytes '.repeat(100));
    const up = await fetch(
      `${src.url}/api/v1/server/package?${new URLSearchParams({ name: 'FooAgent', version: '1.0.0', os: 'linux', arch: 'x86_64', file: 'FooAgent-1.0.0.tar.gz' })}`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${src.token}`, 'content-type': 'application/octet-stream' },
        body: data,
      },
    );
    expect(up.status).toBe(200);
    const task = await src.api('POST', '/api/v1/server/task', {
      command: 'config',
      parameters: { step: 1 },
      agents: [agentsn],
    });
    expect(task.status, JSON.stringify(task.body)).toBe(200);
    const taskId = task.body.id as number;
    await waitUntil(
      async () =>
        (await src.api('GET', `/api/v1/server/task?id=${taskId}`)).body?.task?.status === 'COMPLETE' ? true : undefined,
      {
        timeoutMs: 30_000,
        what: 'task complete on SQLite',
        intervalMs: 200,
      },
    );
    const before = (await src.api('GET', `/api/v1/server/agent?agentsn=${agentsn}`)).body.host;
    await boot.stop();
    await src.stop();

    await pg.createDatabase('moved');
    const target = join(work, 'moved-data');
    const m = await run(
      binary('aspire').cmd,
      [...binary('aspire').args, 'migrate', '--from', src.dataDir, '--to', pg.urlOf('moved'), '--data-dir', target],
      {
        env: { ...process.env, ASPIRE_DATABASE_PASSWORD: pg.password },
      },
    );
    const counts = Object.fromEntries(
      m.stdout
        .trim()
        .split('\n')
        .filter((l) => l.endsWith('\tok'))
        .map((l) => {
          const [t, a, b] = l.split('\t');
          return [t, [Number(a), Number(b)]];
        }),
    );
    for (const t of ['hosts', 'tags', 'regions', 'packages', 'tasks', 'subtasks', 'events', 'tokens', 'audit']) {
      expect(counts[t], `${t} in ${m.stdout}`).toBeDefined();
      expect(counts[t][0]).toBe(counts[t][1]);
    }
    expect(counts.hosts[0]).toBe(1);
    expect(counts.tasks[0]).toBe(1);
    expect(counts.events[0]).toBeGreaterThan(0);
    expect(counts.audit[0]).toBeGreaterThan(0);
    expect(m.stdout).toMatch(/^package files\t1\t/m);
    expect(m.stdout + m.stderr).not.toContain(pg.password);

    // A second migrate into the now non-empty database is refused (exit 2), nothing copied twice.
    const again = await run(
      binary('aspire').cmd,
      [...binary('aspire').args, 'migrate', '--from', src.dataDir, '--to', pg.urlOf('moved')],
      {
        env: { ...process.env, ASPIRE_DATABASE_PASSWORD: pg.password },
      },
    ).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(again?.code).toBe(2);
    expect(again?.stderr).toMatch(/not empty/);

    // A server on the moved data: the old token works, everything is there.
    const moved = await startAspire({
      dataDir: target,
      env: { ...process.env, ASPIRE_DATABASE_URL: pg.urlOf('moved'), ASPIRE_DATABASE_PASSWORD: pg.password },
    });
    stopLater.push(moved);
    const api = (p: string) => moved.api('GET', p, undefined, { token: src.token });
    const host = (await api(`/api/v1/server/agent?agentsn=${agentsn}`)).body.host;
    expect(host).toMatchObject({
      agentsn,
      hostname: before.hostname,
      reported_tags: 'svc=pg',
      curvers: before.curvers,
    });
    expect((await api('/api/v1/server/tag?limit=10')).body.tags.map((t: { name: string }) => t.name)).toContain('role');
    expect((await api('/api/v1/server/region?limit=10')).body.regions.map((r: { name: string }) => r.name)).toContain(
      'eu-west',
    );
    const t = (await api(`/api/v1/server/task?id=${taskId}`)).body;
    expect(t.task.status).toBe('COMPLETE');
    expect((await api(`/api/v1/server/event?agentsn=${agentsn}&limit=100`)).body.count).toBe(counts.events[0]);
    const pkgs = (await api('/api/v1/server/package?limit=10')).body.packages;
    expect(pkgs).toHaveLength(1);
    const file = readFileSync(join(target, pkgs[0].path));
    expect(createHash('sha256').update(file).digest('hex')).toBe(pkgs[0].sha256);
    // The audit rows came along (the old token's requests), and the old token is still that operator.
    const audit = (await api('/api/v1/server/audit?limit=100')).body;
    expect(audit.count).toBeGreaterThanOrEqual(counts.audit[0]);
    expect(audit.audit.some((a: { route: string }) => a.route.includes('/task'))).toBe(true);
  }, 240_000);
});
