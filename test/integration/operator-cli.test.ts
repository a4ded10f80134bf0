// Issue 15 item 2: the operator CLI (`aspire hosts|run|task|package|tag|audit|token`, docs/cli.md)
// against the real server over HTTPS (verified with --ca from cli.json), its TLS command hub and
// three real BasicAgents: web-1 and web-2 (tag role=web) and db-1, whose host policy refuses the
// command the run sends, so one host of three fails. The CLI runs as a child process with its
// own HOME (cli.json there); its stdout is a pipe, so JSON is the default output.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  binary,
  makeTestCa,
  startAspire,
  startBasicAgent,
  type AspireHandle,
  type BasicAgentHandle,
  type TestCa,
} from '@aspire/testing';

let ca: TestCa;
let srv: AspireHandle;
let work: string;
let home: string;
const agents: BasicAgentHandle[] = [];
const WEB1 = { sn: 'sn-web-1', hostname: 'web-1' };
const WEB2 = { sn: 'sn-web-2', hostname: 'web-2' };
const DB = { sn: 'sn-db-1', hostname: 'db-1' };
// The output 42 is not in the command text: seeing it proves the command ran.
const CMD = 'echo hello-$((40+2))';
// Every step starts the CLI as a process (a second or more each on a loaded machine): generous bounds.
const SLOW = 180_000;

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `aspire ARGS` with HOME=home and no ASPIRE_* from the test's own environment. */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const bin = binary('aspire');
  const base: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  for (const k of ['ASPIRE_URL', 'ASPIRE_TOKEN', 'ASPIRE_CA', 'XDG_CONFIG_HOME']) delete base[k];
  return new Promise((resolve) => {
    execFile(
      bin.cmd,
      [...bin.args, ...args],
      { env: { ...base, ...env }, timeout: 120_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : -1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The one JSON document a command wrote to its pipe (exit code checked). */
async function cliJson(args: string[], expectCode = 0): Promise<any> {
  const r = await cli(args);
  expect(r.code, `aspire ${args.join(' ')}\n${r.stderr}`).toBe(expectCode);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-opcli-'));
  home = join(work, 'home');
  ca = makeTestCa();
  srv = await startAspire({
    config: { tlsCert: ca.serverCertFile, tlsKey: ca.serverKeyFile },
    caCert: ca.caCert,
    hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile },
  });
  expect(srv.url).toMatch(/^https:/);
  mkdirSync(join(home, '.config', 'aspire'), { recursive: true });
  writeFileSync(
    join(home, '.config', 'aspire', 'cli.json'),
    JSON.stringify({ url: srv.url, token: srv.token, ca: ca.caCertFile }),
    { mode: 0o600 },
  );
  const policy = join(work, 'db-policy.json');
  writeFileSync(policy, JSON.stringify({ version: 1, commands: [{ exact: 'true' }], users: ['root'] }), {
    mode: 0o644,
  });
  const port = srv.hubAddress!.port;
  agents.push(await startBasicAgent({ port, caFile: ca.caCertFile, hostname: WEB1.hostname, agentsn: WEB1.sn }));
  agents.push(await startBasicAgent({ port, caFile: ca.caCertFile, hostname: WEB2.hostname, agentsn: WEB2.sn }));
  agents.push(
    await startBasicAgent({ port, caFile: ca.caCertFile, hostname: DB.hostname, agentsn: DB.sn, config: { policy } }),
  );
}, SLOW);

afterAll(async () => {
  for (const a of agents) await a.stop();
  await srv?.stop();
  ca?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
}, SLOW);

describe('aspire tag and hosts', () => {
  it(
    'tag bind creates role=web on two hosts; tag list shows it with 2 hosts',
    async () => {
      const bound = await cliJson(['tag', 'bind', 'role=web', WEB1.sn, WEB2.sn]);
      expect(bound).toMatchObject({ tag: { name: 'role', value: 'web' }, changed: 2, unknown: [] });
      const list = await cliJson(['tag', 'list', '-o', 'json']);
      expect(list.tags).toEqual([expect.objectContaining({ name: 'role', value: 'web', hosts: 2 })]);
    },
    SLOW,
  );

  it(
    'hosts to a pipe is one JSON document with every host; --tag filters',
    async () => {
      const all = await cliJson(['hosts']);
      expect(all.count).toBe(3);
      expect(all.hosts.map((h: { agentsn: string }) => h.agentsn).sort()).toEqual([DB.sn, WEB1.sn, WEB2.sn]);
      const web = await cliJson(['hosts', '--tag', 'role=web', '-o', 'json']);
      expect(web.hosts.map((h: { hostname: string }) => h.hostname).sort()).toEqual([WEB1.hostname, WEB2.hostname]);
      const none = await cliJson(['hosts', '--status', 'deleted']);
      expect(none).toEqual({ count: 0, hosts: [] });
      const table = await cli(['hosts', '-o', 'table', '--tag', 'role=web']);
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/AGENTSN.*HOSTNAME.*STATUS/);
      expect(table.stdout).toContain(WEB1.sn);
      expect(table.stdout).not.toContain(DB.sn);
      expect(table.stdout).toMatch(/2 hosts\n$/);
    },
    SLOW,
  );
});

describe('aspire run', () => {
  it(
    'three hosts, one refused by its policy: exit 1, per-host results, summary, JSON',
    async () => {
      const r = await cliJson(
        ['run', '--host', `${WEB1.hostname},${WEB2.hostname}`, '--host', DB.hostname, '--timeout', '20', '--', CMD],
        1,
      );
      expect(r.summary).toEqual({ hosts: 3, succeeded: 2, failed: 1, failedHosts: [DB.hostname] });
      expect(r.command).toBe(CMD);
      const by = Object.fromEntries(r.results.map((x: { host: string }) => [x.host, x]));
      for (const h of [WEB1.hostname, WEB2.hostname])
        expect(by[h]).toMatchObject({ ok: true, resp: 'success', retcode: 0, output: 'hello-42\n' });
      expect(by[DB.hostname]).toMatchObject({ ok: false, resp: 'failed' });
      expect(by[DB.hostname].message).toMatch(/refused by host policy/);
    },
    SLOW,
  );

  it(
    'table output: a line per host, the output indented, and the summary; exit 1',
    async () => {
      const r = await cli(['run', '-o', 'table', '--host', WEB1.hostname, '--host', DB.sn, '--', CMD]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toMatch(/^\[ok\] {2}web-1 {2}exit 0/m);
      expect(r.stdout).toContain('    hello-42\n');
      expect(r.stdout).toMatch(/^\[FAILED\] {2}sn-db-1 .*refused by host policy/m);
      expect(r.stdout).toMatch(/2 hosts: 1 succeeded, 1 failed \(sn-db-1\)\n$/);
    },
    SLOW,
  );

  it(
    'a tag selector runs on the tagged hosts, as the user asked; all succeed: exit 0',
    async () => {
      const r = await cliJson(['run', '--tag', 'role=web', '--user', 'root', '--', 'id', '-un']);
      expect(r.summary).toEqual({ hosts: 2, succeeded: 2, failed: 0, failedHosts: [] });
      expect(r.user).toBe('root');
      expect(r.results.map((x: { hostname: string }) => x.hostname).sort()).toEqual([WEB1.hostname, WEB2.hostname]);
      for (const x of r.results) expect(x.output).toBe('root\n');
    },
    SLOW,
  );

  it(
    'a host with no channel fails that host only',
    async () => {
      const r = await cliJson(['run', '--host', WEB1.hostname, '--host', 'no-such-host', '--', 'true'], 1);
      expect(r.summary).toMatchObject({ hosts: 2, succeeded: 1, failed: 1, failedHosts: ['no-such-host'] });
    },
    SLOW,
  );

  it(
    'audit shows the run: who, which hosts, the command, the outcome (never the output)',
    async () => {
      const a = await cliJson(['audit', '--route', '/api/v1/server/polaris', '--limit', '1000']);
      const rows = a.audit.filter((x: { command: string | null }) => x.command === CMD);
      expect(rows.length).toBeGreaterThanOrEqual(6);
      expect(rows.every((x: { token: string }) => x.token === 'test')).toBe(true);
      expect(
        rows.some(
          (x: { selector: string; phase: string }) => x.phase === 'dispatch' && x.selector === `hosts=${DB.hostname}`,
        ),
      ).toBe(true);
      expect(rows.some((x: { outcome: string | null }) => x.outcome === '1 hosts: 1 success, 0 failed')).toBe(true);
      expect(JSON.stringify(a)).not.toContain('hello-42');
      expect(JSON.stringify(a)).not.toContain(srv.token);
      const table = await cli(['audit', '-o', 'table', '--host', DB.hostname, '--limit', '5']);
      expect(table.code).toBe(0);
      expect(table.stdout).toContain('POST /api/v1/server/polaris');
    },
    SLOW,
  );
});

describe('aspire task', () => {
  it(
    'create, list, show, revoke',
    async () => {
      const created = await cliJson([
        'task',
        'create',
        'config',
        '--host',
        WEB1.sn,
        '--host',
        WEB2.sn,
        '--params',
        '{"step":7}',
        '--delay',
        '3600',
        '--priority',
        '5',
        '--max-errors',
        '50%',
        '--batch',
        '50%',
      ]);
      expect(created.results).toEqual([{ AgentSN: WEB1.sn }, { AgentSN: WEB2.sn }]);
      const id = created.id as number;
      expect(id).toBeGreaterThan(0);
      const list = await cliJson(['task', 'list']);
      expect(list.tasks.find((t: { id: number }) => t.id === id)).toMatchObject({
        command: 'config',
        status: 'RUNNING',
        count: 2,
        user: 'test',
      });
      const shown = await cliJson(['task', 'show', String(id)]);
      expect(shown.task).toMatchObject({ id, command: 'config', parameters: { step: 7 } });
      expect(shown.task).toMatchObject({ priority: 5, max_errors_pct: 50, batch_pct: 50 });
      expect(shown.states).toEqual({ DELAYED: 1, PENDING: 1 });
      expect(shown.subtasks.map((s: { agentsn: string }) => s.agentsn).sort()).toEqual([WEB1.sn, WEB2.sn]);
      const table = await cli(['task', 'show', String(id), '-o', 'table']);
      expect(table.code).toBe(0);
      expect(table.stdout).toContain(WEB2.sn);
      const revoked = await cliJson(['task', 'revoke', String(id)]);
      expect(revoked).toMatchObject({ id, revoked: 2 });
      const after = await cliJson(['task', 'show', String(id)]);
      expect(after.task.status).toBe('REVOKED');
      expect(after.states).toMatchObject({ REVOKED: 2 });
      const kicked = await cliJson(['task', 'kick', String(id)]);
      expect(kicked).toMatchObject({ id, kicked: 0 });
      // A revoked task is not retried: 409 with the server's cause.
      const retried = await cli(['task', 'retry', String(id)]);
      expect(retried.code).toBe(1);
      expect(retried.stderr).toMatch(/HTTP 409 .*REVOKED/);
      const missing = await cli(['task', 'show', '999999']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^aspire: GET \/api\/v1\/server\/task\?id=999999: HTTP 404 .*no task 999999\n$/);
    },
    SLOW,
  );
});

describe('aspire package', () => {
  it(
    'upload, list, delete',
    async () => {
      const file = join(work, 'demo-agent-1.0.0.tar.gz');
      writeFileSync(file, 'not really a tarball\n');
      const up = await cliJson(['package', 'upload', file, '--name', 'demo-agent', '--pkg-version', '1.0.0']);
      expect(up.package).toMatchObject({
        name: 'demo-agent',
        version: '1.0.0',
        os: 'linux',
        arch: 'x86_64',
        file: 'demo-agent-1.0.0.tar.gz',
        size: 21,
        sha256: createHash('sha256').update('not really a tarball\n').digest('hex'),
      });
      const list = await cliJson(['package', 'list', '--name', 'demo-agent']);
      expect(list.packages).toEqual([expect.objectContaining({ id: up.package.id, sha256: up.package.sha256 })]);
      const del = await cliJson(['package', 'delete', '--id', String(up.package.id)]);
      expect(del.deleted).toBe(1);
      expect(await cliJson(['package', 'list', '--name', 'demo-agent'])).toMatchObject({ count: 0, packages: [] });
      const none = await cli(['package', 'delete']);
      expect(none.code).toBe(2);
    },
    SLOW,
  );
});

describe('aspire token against the server (admin routes /token)', () => {
  // One flow: each step needs the token the step before made (created -> used -> listed -> revoked).
  let secret = '';
  let operatorSecret = '';

  it(
    'create prints the secret once, alone on stdout, and it works at once',
    async () => {
      const r = await cli([
        'token',
        'create',
        '--name',
        'ci-bot',
        '--role',
        'viewer',
        '--tags',
        'role=web,role=db',
        '--commands',
        'prefix:systemctl status ',
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^asp_\S+\n$/);
      secret = r.stdout.trim();
      expect(r.stderr).toContain('token ci-bot: role viewer, tags=role=web,role=db commands=prefix:systemctl status ');
      expect(r.stderr).not.toContain(secret);
      const used = await cli(['hosts', '--token', secret]);
      expect(used.code, used.stderr).toBe(0);
      expect(JSON.parse(used.stdout).count).toBe(3);
      // -o json: one document with the secret in it; a bad flag is refused before anything is sent.
      const j = await cliJson([
        'token',
        'create',
        '--name',
        'ops-1',
        '--role',
        'operator',
        '--users',
        'nobody',
        '-o',
        'json',
      ]);
      expect(j).toMatchObject({ name: 'ops-1', role: 'operator', scope: { users: ['nobody'] } });
      expect(j.token).toMatch(/^asp_/);
      operatorSecret = j.token;
      const bad = await cli(['token', 'create', '--name', 'x', '--role', 'root', '--tags', 'notatag']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(
        /^aspire: --role: must be one of viewer operator admin; --tags: "notatag" is not k=v\n$/,
      );
    },
    SLOW,
  );

  it(
    'list -o json: name, role, scope, created, last use; never a secret or a hash',
    async () => {
      const r = await cli(['token', 'list', '-o', 'json']);
      expect(r.code, r.stderr).toBe(0);
      const list = JSON.parse(r.stdout);
      const bot = list.tokens.find((t: { name: string }) => t.name === 'ci-bot');
      expect(bot).toMatchObject({
        role: 'viewer',
        scope: { tags: ['role=web', 'role=db'], commands: [{ kind: 'prefix', value: 'systemctl status ' }] },
      });
      expect(Date.parse(bot.gmt_create)).toBeGreaterThan(0);
      expect(Date.parse(bot.last_used)).toBeGreaterThan(0);
      expect(list.tokens.find((t: { name: string }) => t.name === 'test')).toMatchObject({ role: 'admin' });
      expect(list.count).toBe(list.tokens.length);
      for (const s of [secret, operatorSecret, srv.token]) {
        expect(r.stdout).not.toContain(s);
        expect(r.stdout).not.toContain(createHash('sha256').update(s).digest('hex'));
      }
      const table = await cli(['token', 'list', '-o', 'table']);
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/NAME.*ROLE.*CREATED.*LAST USED.*SCOPE/);
      expect(table.stdout).toMatch(/ci-bot.*viewer/);
    },
    SLOW,
  );

  it(
    'a viewer or operator token gets 403 on every token route; nothing changes',
    async () => {
      for (const t of [secret, operatorSecret]) {
        for (const args of [
          ['token', 'list'],
          ['token', 'create', '--name', 'sneaky'],
          ['token', 'revoke', '--name', 'test'],
        ]) {
          const r = await cli([...args, '--token', t]);
          expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
          expect(r.stderr).toMatch(/HTTP 403 .*needs admin/);
          expect(r.stderr + r.stdout).not.toContain(t);
        }
      }
      const names = (await cliJson(['token', 'list'])).tokens.map((t: { name: string }) => t.name);
      expect(names).toContain('test');
      expect(names).not.toContain('sneaky');
    },
    SLOW,
  );

  it(
    'revoke takes effect at once: the token gets 401 on its next request',
    async () => {
      const r = await cli(['token', 'revoke', '--name', 'ci-bot', '-o', 'table']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('revoked 1 token(s) named ci-bot\n');
      const after = await cli(['hosts', '--token', secret]);
      expect(after.code).toBe(1);
      expect(after.stderr).toMatch(/HTTP 401/);
      const again = await cli(['token', 'revoke', '--name', 'ci-bot']);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/HTTP 404 .*no token named "ci-bot"/);
      expect(await cliJson(['token', 'revoke', '--name', 'ops-1', '-o', 'json'])).toEqual({
        name: 'ops-1',
        revoked: 1,
      });
    },
    SLOW,
  );

  it(
    'the audit log shows each action and refusal, never the secret; the server log neither',
    async () => {
      const a = await cliJson(['audit', '--limit', '1000']);
      const rows = (
        a.audit as {
          method: string;
          route: string;
          token: string | null;
          code: number;
          outcome: string;
          selector: string | null;
        }[]
      ).filter((x) => x.route.startsWith('/api/v1/server/token'));
      expect(rows).toContainEqual(
        expect.objectContaining({
          method: 'POST',
          route: '/api/v1/server/token',
          token: 'test',
          code: 200,
          selector: 'token=ci-bot',
          outcome: 'token ci-bot created: role viewer',
        }),
      );
      expect(rows).toContainEqual(
        expect.objectContaining({ method: 'GET', route: '/api/v1/server/token', token: 'test', code: 200 }),
      );
      expect(rows).toContainEqual(
        expect.objectContaining({
          method: 'DELETE',
          route: '/api/v1/server/token/:name',
          token: 'test',
          code: 200,
          selector: 'token=ci-bot',
          outcome: '1 tokens revoked',
        }),
      );
      expect(rows).toContainEqual(
        expect.objectContaining({ method: 'DELETE', route: '/api/v1/server/token/:name', code: 404 }),
      );
      const refused = rows.filter((x) => x.code === 403);
      expect(refused.map((x) => x.token).sort()).toEqual(['ci-bot', 'ci-bot', 'ci-bot', 'ops-1', 'ops-1', 'ops-1']);
      for (const s of [secret, operatorSecret]) {
        expect(JSON.stringify(a)).not.toContain(s);
        expect(srv.child.output).not.toContain(s);
      }
      expect(srv.child.output).toMatch(/audit result POST \/api\/v1\/server\/token 200/);
    },
    SLOW,
  );
});

describe('connection, errors and exit codes', () => {
  it(
    'flags and env win over cli.json; no server anywhere is a usage error (2)',
    async () => {
      const viaEnv = await cli(['hosts'], {
        HOME: join(work, 'empty-home'),
        ASPIRE_URL: srv.url,
        ASPIRE_TOKEN: srv.token,
        ASPIRE_CA: ca.caCertFile,
      });
      expect(viaEnv.code, viaEnv.stderr).toBe(0);
      expect(JSON.parse(viaEnv.stdout).count).toBe(3);
      const nothing = await cli(['hosts'], { HOME: join(work, 'empty-home') });
      expect(nothing.code).toBe(2);
      expect(nothing.stderr).toMatch(/^aspire: no server URL .* and no operator token .*cli\.json\n$/);
    },
    SLOW,
  );

  it(
    'a wrong token is exit 1 with one line, and no token is ever printed',
    async () => {
      const wrong = 'asp_wrongwrongwrongwrongwrong';
      const r = await cli(['hosts', '--token', wrong]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^aspire: GET \/api\/v1\/server\/host.*HTTP 401/);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.stderr + r.stdout).not.toContain(wrong);
      expect(r.stderr + r.stdout).not.toContain(srv.token);
    },
    SLOW,
  );

  it(
    'TLS is verified: without the CA the server is refused (exit 1)',
    async () => {
      const r = await cli(['hosts'], { HOME: join(work, 'empty-home'), ASPIRE_URL: srv.url, ASPIRE_TOKEN: srv.token });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^aspire: cannot reach https:\/\/127\.0\.0\.1:\d+: .*(certificate|CERT)/i);
    },
    SLOW,
  );

  it(
    'an unreachable server is exit 1; a bad option value or a missing argument is exit 2',
    async () => {
      const down = await cli(['hosts', '--url', 'http://127.0.0.1:9']);
      expect(down.code).toBe(1);
      expect(down.stderr).toMatch(/^aspire: cannot reach http:\/\/127\.0\.0\.1:9: /);
      expect((await cli(['run', '--host', 'web-1', '--timeout', 'soon', '--', 'true'])).code).toBe(2);
      expect((await cli(['run', '--', 'true'])).code).toBe(2);
      expect((await cli(['task', 'show'])).code).toBe(2);
      expect((await cli(['hosts', '-o', 'yaml'])).code).toBe(2);
    },
    SLOW,
  );

  it(
    'aspire token (server side) still works beside the client commands',
    async () => {
      const t = await srv.createToken('cli-check', ['--role', 'viewer']);
      expect(t).toMatch(/^asp_/);
      const r = await cli(['hosts', '--token', t]);
      expect(r.code, r.stderr).toBe(0);
    },
    SLOW,
  );
});
