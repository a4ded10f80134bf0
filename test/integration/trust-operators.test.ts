// Operator roles, scopes and the audit log (docs/security.md) against the real server, its TLS
// command hub and two real BasicAgents: web-1 (tag role=web) and db-1 (no tag). Tokens are made
// with the real `aspire token create`; every refusal names what was outside; GET /audit holds
// each attempt and never a token or a command's output.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiStatus } from '@aspire/protocol';
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
const agents: BasicAgentHandle[] = [];
const tokens: Record<string, string> = {};
const WEB = { sn: 'sn-web-1', hostname: 'web-1' };
const DB = { sn: 'sn-db-1', hostname: 'db-1' };
// The command prints 421337; the number appears in no command text, so finding it in the audit
// would mean output was stored.
const OUTPUT_MARK = '421337';
const MARK_CMD = 'echo $((421336+1))';

const as = (name: string) => ({ token: tokens[name]! });
const polaris = (name: string, body: Record<string, unknown>) =>
  srv.api('POST', '/api/v1/server/polaris', body, as(name));
const bash = (name: string, host: string, cmd: string, extra: Record<string, unknown> = {}) =>
  polaris(name, { hosts: [host], method: 'sync.bash', cmd, timeout: 10, ...extra });

async function audit(query: string): Promise<any[]> {
  const r = await srv.api('GET', `/api/v1/server/audit?limit=1000&${query}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.audit;
}

beforeAll(async () => {
  ca = makeTestCa();
  srv = await startAspire({ hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile } });
  tokens.test = srv.token;
  // startBasicAgent enrolls each host on the server (as its BootAgent would), so both have rows.
  const port = srv.hubAddress!.port;
  agents.push(await startBasicAgent({ port, caFile: ca.caCertFile, hostname: WEB.hostname, agentsn: WEB.sn }));
  agents.push(await startBasicAgent({ port, caFile: ca.caCertFile, hostname: DB.hostname, agentsn: DB.sn }));
  const tag = await srv.api('POST', '/api/v1/server/tag', { name: 'role', value: 'web' });
  expect(tag.status).toBe(200);
  const bound = await srv.api('POST', '/api/v1/server/tag/bind', { id: tag.body.tag.id, agents: [WEB.sn] });
  expect(bound.body).toMatchObject({ status: 0, changed: 1, unknown: [] });
  tokens.viewer = await srv.createToken('viewer', ['--role', 'viewer']);
  tokens.web = await srv.createToken('web-ops', ['--role', 'operator', '--tags', 'role=web']);
  tokens.echo = await srv.createToken('echo-only', [
    '--role',
    'operator',
    '--commands',
    'prefix:echo ',
    '--commands',
    'exact:uptime',
  ]);
  tokens.nobody = await srv.createToken('as-nobody', ['--role', 'operator', '--users', 'nobody']);
  tokens.nobodyGroup = await srv.createToken('as-nobody-nogroup', [
    '--role',
    'operator',
    '--users',
    'nobody',
    '--groups',
    'nogroup',
  ]);
  // Loopback port 9 (discard): a source no test ever fetches from.
  tokens.installer = await srv.createToken('installer', [
    '--role',
    'operator',
    '--commands',
    'prefix:install ',
    '--sources',
    'http://127.0.0.1:9/pkgs/',
  ]);
  tokens.remote = await srv.createToken('from-10', ['--role', 'operator', '--cidrs', '10.0.0.0/8']);
  tokens.local = await srv.createToken('from-loopback', ['--role', 'operator', '--cidrs', '127.0.0.1/32,::1']);
  for (const t of Object.values(tokens)) expect(t).toMatch(/^asp_/);
  // Two BasicAgents, a server and 8 token CLI runs: over a minute on a loaded 2-core machine.
}, 180_000);

afterAll(async () => {
  for (const a of agents) await a.stop();
  await srv?.stop();
  ca?.cleanup();
});

describe('operator roles and scopes', () => {
  it('a viewer reads but gets 403 on POST, naming its role and the role needed', async () => {
    expect((await srv.api('GET', '/api/v1/server/host', undefined, as('viewer'))).status).toBe(200);
    const r = await srv.api('POST', '/api/v1/server/tag', { name: 'x', value: 'y' }, as('viewer'));
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ status: ApiStatus.FORBIDDEN, message: 'forbidden' });
    expect(r.body.cause).toMatch(/role viewer; POST \/api\/v1\/server\/tag needs admin/);
    const p = await bash('viewer', WEB.hostname, 'uptime');
    expect(p.status).toBe(403);
    expect(p.body.cause).toMatch(/needs operator/);
  });

  it('a token scoped to tag role=web: 403 for a host outside (named), 200 inside', async () => {
    const out = await bash('web', DB.hostname, MARK_CMD);
    expect(out.status).toBe(403);
    expect(out.body.cause).toContain(`hosts outside the scope of token "web-ops": "${DB.hostname}"`);
    // One outside host refuses the whole request: nothing goes to web-1 either.
    const mixed = await polaris('web', { hosts: [WEB.sn, DB.sn], method: 'sync.bash', cmd: MARK_CMD });
    expect(mixed.status).toBe(403);
    expect(mixed.body.cause).toContain(`"${DB.sn}"`);
    expect(mixed.body.cause).not.toContain(`"${WEB.sn}"`);
    const inside = await bash('web', WEB.hostname, MARK_CMD);
    expect(inside.status, JSON.stringify(inside.body)).toBe(200);
    expect(inside.body.response[0]).toMatchObject({
      host: WEB.hostname,
      resp: 'success',
      retcode: 0,
      data: `${OUTPUT_MARK}\n`,
    });
    // A task to an outside host is refused the same way, before the task exists.
    const task = await srv.api(
      'POST',
      '/api/v1/server/task',
      { command: 'config', agents: [DB.sn], parameters: { step: 7 } },
      as('web'),
    );
    expect(task.status).toBe(403);
    expect(task.body.cause).toContain(`"${DB.sn}"`);
    const tagTask = await srv.api(
      'POST',
      '/api/v1/server/task',
      { command: 'config', tags: 'role=db', parameters: { step: 7 } },
      as('web'),
    );
    expect(tagTask.status).toBe(403);
    expect(tagTask.body.cause).toMatch(/tags "role=db" select hosts outside/);
  });

  it('a command outside the allow list is 403 naming the command; one inside runs', async () => {
    const bad = await bash('echo', WEB.hostname, 'echo ok; id');
    expect(bad.status).toBe(403);
    expect(bad.body.cause).toContain('command "echo ok; id" is not in the allow list of token "echo-only"');
    const bad2 = await bash('echo', WEB.hostname, 'id');
    expect(bad2.status).toBe(403);
    const good = await bash('echo', WEB.hostname, 'echo allowed');
    expect(good.status).toBe(200);
    expect(good.body.response[0]).toMatchObject({ resp: 'success', data: 'allowed\n' });
    // A periodic task's command is checked too (task.add carries a command line).
    const add = await srv.api(
      'POST',
      '/api/v1/server/polaris/tasks',
      { host: WEB.hostname, name: 'sneaky', line: '*/5 * * * * * root id' },
      as('echo'),
    );
    expect(add.status).toBe(403);
    expect(add.body.cause).toContain('"id"');
  });

  it('a forbidden run-as user is 403 naming the user (sync.bash runs as root by default)', async () => {
    const root = await bash('nobody', WEB.hostname, 'id -u');
    expect(root.status).toBe(403);
    expect(root.body.cause).toContain('run-as user "root" is not allowed for token "as-nobody" (allowed: nobody)');
    const daemon = await bash('nobody', WEB.hostname, 'id -u', { user: 'daemon' });
    expect(daemon.status).toBe(403);
    expect(daemon.body.cause).toContain('"daemon"');
    const ok = await bash('nobody', WEB.hostname, 'id -u', { user: 'nobody' });
    expect(ok.status).toBe(200);
  });

  it('a run-as group outside the scope is 403 naming the group (review finding 3)', async () => {
    // --users nobody without --groups: no explicit group at all (the primary group is used when it is left out).
    const disk = await bash('nobody', WEB.hostname, 'id -gn', { user: 'nobody', group: 'disk' });
    expect(disk.status).toBe(403);
    expect(disk.body.cause).toContain('run-as group "disk" is not allowed for token "as-nobody"');
    const listed = await bash('nobodyGroup', WEB.hostname, 'id -u', { user: 'nobody', group: 'nogroup' });
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
    expect(listed.body.response[0]).toMatchObject({ resp: 'success' });
    const other = await bash('nobodyGroup', WEB.hostname, 'id -u', { user: 'nobody', group: 'disk' });
    expect(other.status).toBe(403);
    expect(other.body.cause).toContain(
      'run-as group "disk" is not allowed for token "as-nobody-nogroup" (allowed: nogroup)',
    );
  });

  it('a scoped token creates install tasks only from its sources; command://, envs and config are refused, named and audited (review findings 4, 7)', async () => {
    const task = (parameters: Record<string, unknown>, command = 'install') =>
      srv.api('POST', '/api/v1/server/task', { command, agents: [WEB.sn], parameters }, as('installer'));
    const cmdUrl = await task({ name: 'evil', url: 'command://touch /tmp/aspire-evil' });
    expect(cmdUrl.status).toBe(403);
    expect(cmdUrl.body.cause).toContain(
      'outside the scope of token "installer": source "command://touch /tmp/aspire-evil" (allowed sources: http://127.0.0.1:9/pkgs/)',
    );
    const envs = await task({
      name: 'agent',
      url: 'http://127.0.0.1:9/pkgs/agent-1.tgz',
      envs: { LD_PRELOAD: '/tmp/x.so' },
    });
    expect(envs.status).toBe(403);
    expect(envs.body.cause).toContain('envs (LD_PRELOAD) not allowed');
    const dots = await task({ name: 'agent', url: 'http://127.0.0.1:9/pkgs/../evil/agent-1.tgz' });
    expect(dots.status).toBe(403);
    expect(dots.body.cause).toContain('".." path segment');
    const config = await task({ svrlist: '127.0.0.1:1' }, 'config');
    expect(config.status).toBe(403);
    expect(config.body.cause).toContain('config job not allowed');
    const ok = await task({ name: 'agent', url: 'http://127.0.0.1:9/pkgs/agent-1.tgz' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const rows = await audit('token=installer');
    const refused = rows.filter((r) => r.code === 403);
    expect(refused.length).toBe(4);
    expect(
      refused.every(
        (r) => r.phase === 'result' && r.route === '/api/v1/server/task' && r.outcome.startsWith('refused: '),
      ),
    ).toBe(true);
    expect(refused.some((r) => r.outcome.includes('command://touch /tmp/aspire-evil'))).toBe(true);
    expect(refused.some((r) => r.outcome.includes('LD_PRELOAD'))).toBe(true);
    // A refusal dispatched nothing: no dispatch row shares its request id.
    for (const r of refused)
      expect(rows.filter((x) => x.request === r.request).map((x) => x.phase)).toEqual(['result']);
  });

  it('a token whose address allow list excludes 127.0.0.1 gets 403 from loopback; one that includes it works', async () => {
    const r = await srv.api('GET', '/api/v1/server/host', undefined, as('remote'));
    expect(r.status).toBe(403);
    expect(r.body.cause).toMatch(
      /source address (::ffff:)?127\.0\.0\.1 is not in the address allow list of token "from-10"/,
    );
    expect((await srv.api('GET', '/api/v1/server/host', undefined, as('local'))).status).toBe(200);
  });

  it('POST /task records the token name as author even when the body says otherwise', async () => {
    const created = await srv.api(
      'POST',
      '/api/v1/server/task',
      { command: 'config', agents: [WEB.sn], parameters: { step: 7 }, user: 'root-admin' },
      as('web'),
    );
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const t = await srv.api('GET', `/api/v1/server/task?id=${created.body.id}`);
    expect(t.body.task.user).toBe('web-ops');
    // Below admin a token may revoke only its own tasks.
    const mine = await srv.api('POST', '/api/v1/server/task', {
      command: 'config',
      agents: [DB.sn],
      parameters: { step: 7 },
    });
    expect((await srv.api('POST', '/api/v1/server/task/revoke', { id: mine.body.id }, as('web'))).status).toBe(403);
    expect((await srv.api('POST', '/api/v1/server/task/revoke', { id: created.body.id }, as('web'))).status).toBe(200);
  });

  it('a revoked token is refused with 401 at once', async () => {
    const temp = await srv.createToken('short-lived', ['--role', 'viewer']);
    expect((await srv.api('GET', '/api/v1/server/host', undefined, { token: temp })).status).toBe(200);
    await srv.revokeToken('short-lived');
    const after = await srv.api('GET', '/api/v1/server/host', undefined, { token: temp });
    expect(after.status).toBe(401);
    expect(after.body.status).toBe(ApiStatus.UNAUTHORIZED);
  });

  it('token create refuses bad flags naming each; token list shows role and scope, never a token', async () => {
    const bin = binary('aspire');
    const cli = (args: string[]) =>
      promisify(execFile)(bin.cmd, [...bin.args, 'token', ...args, '--data-dir', srv.dataDir]).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const bad = await cli([
      'create',
      '--name',
      'bad',
      '--role',
      'root',
      '--tags',
      'web',
      '--cidrs',
      '10.0.0.0/99',
      '--commands',
      'regex:(',
    ]);
    // Bad flags are a usage error: exit 2 (docs/install.md "Command lines and exit codes").
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    for (const why of [
      '--role: must be one of viewer operator admin',
      '"web" is not k=v',
      '"10.0.0.0/99" is not an address or CIDR',
      'regex "("',
    ])
      expect(bad.stderr).toContain(why);
    const list = await cli(['list']);
    expect(list.stdout).toMatch(/^web-ops\tcreated \S+\t.*\trole operator\ttags=role=web$/m);
    expect(list.stdout).toMatch(/^echo-only\t.*\trole operator\tcommands=prefix:echo {2}\| exact:uptime$/m);
    expect(list.stdout).toMatch(/^test\t.*\trole admin\tno limits$/m);
    for (const t of Object.values(tokens)) expect(list.stdout).not.toContain(t);
  });

  it('only admin reads the audit log', async () => {
    expect((await srv.api('GET', '/api/v1/server/audit', undefined, as('web'))).status).toBe(403);
  });
});

describe('the audit log', () => {
  it('holds every attempt above with token, source, route, command, run-as user and outcome', async () => {
    const rows = await audit('order=asc');
    const find = (pred: (r: any) => boolean, what: string) => {
      const r = rows.find(pred);
      expect(r, `${what} in ${JSON.stringify(rows, null, 1).slice(0, 3000)}`).toBeDefined();
      return r;
    };
    for (const r of rows) expect(r.source).toMatch(/^(::ffff:)?127\.0\.0\.1$|^::1$/);

    const viewerPost = find(
      (r) => r.token === 'viewer' && r.route === '/api/v1/server/tag' && r.method === 'POST',
      'viewer POST',
    );
    expect(viewerPost).toMatchObject({ phase: 'result', code: 403 });
    expect(viewerPost.outcome).toMatch(/^refused: .*role viewer/);

    const outside = find(
      (r) => r.token === 'web-ops' && r.code === 403 && r.selector === `hosts=${DB.hostname}`,
      'web outside',
    );
    expect(outside).toMatchObject({ route: '/api/v1/server/polaris', command: MARK_CMD, run_as: 'root', targets: 1 });
    expect(outside.outcome).toContain(DB.hostname);
    // Refused: nothing was dispatched for it.
    expect(rows.filter((r) => r.request === outside.request).map((r) => r.phase)).toEqual(['result']);

    const inside = find(
      (r) =>
        r.token === 'web-ops' &&
        r.code === 200 &&
        r.selector === `hosts=${WEB.hostname}` &&
        r.route === '/api/v1/server/polaris',
      'web inside',
    );
    expect(inside.outcome).toBe('1 hosts: 1 success, 0 failed');
    const pair = rows.filter((r) => r.request === inside.request);
    // The dispatch row was written before the command went out, the result row after.
    expect(pair.map((r) => r.phase)).toEqual(['dispatch', 'result']);
    expect(pair[0]).toMatchObject({ command: MARK_CMD, run_as: 'root', code: null });
    expect(pair[0].id).toBeLessThan(pair[1].id);

    find((r) => r.token === 'echo-only' && r.code === 403 && r.command === 'echo ok; id', 'command refusal');
    find((r) => r.token === 'as-nobody' && r.code === 403 && r.run_as === 'root', 'root refusal');
    find((r) => r.token === 'as-nobody' && r.code === 403 && r.run_as === 'daemon', 'daemon refusal');
    find((r) => r.token === 'from-10' && r.code === 403 && /address allow list/.test(r.outcome), 'address refusal');
    const task = find((r) => r.token === 'web-ops' && r.route === '/api/v1/server/task' && r.code === 200, 'task');
    expect(task).toMatchObject({ command: 'config', run_as: 'root', selector: `hosts=${WEB.sn}`, targets: 1 });
    expect(task.outcome).toMatch(/^task \d+: 1 subtasks$/);
    find((r) => r.token === null && r.code === 401, 'revoked token refusal');

    // Filters: token, route, agentsn, since/until.
    const byToken = await audit('token=web-ops');
    expect(byToken.length).toBeGreaterThan(3);
    expect(byToken.every((r) => r.token === 'web-ops')).toBe(true);
    const byHost = await audit(`agentsn=${DB.sn}`);
    expect(byHost.length).toBeGreaterThan(0);
    expect(byHost.every((r) => r.selector.split(/[=,]/).includes(DB.sn))).toBe(true);
    const byRoute = await audit('route=/api/v1/server/task');
    expect(byRoute.every((r) => r.route === '/api/v1/server/task')).toBe(true);
    expect(await audit('until=1')).toEqual([]);
    expect((await audit(`since=${Math.floor(Date.now() / 1000) - 3600}`)).length).toBeGreaterThanOrEqual(rows.length);
    const page = await srv.api('GET', '/api/v1/server/audit?limit=2&offset=1&order=desc&sortby=at');
    expect(page.body).toMatchObject({ status: 0, limit: 2, offset: 1 });
    expect(page.body.audit).toHaveLength(2);

    // Never a secret, never output.
    const all = JSON.stringify(await audit(''));
    for (const t of Object.values(tokens)) expect(all).not.toContain(t);
    expect(all).not.toContain('asp_');
    expect(all).not.toContain(srv.enrollSecret);
    expect(all).not.toContain(OUTPUT_MARK);
    expect(all).not.toContain('allowed\\n');
  });

  it('has no route that changes or deletes it', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const r = await srv.api(method, '/api/v1/server/audit', method === 'DELETE' ? undefined : {});
      expect(r.status, method).toBe(404);
    }
  });

  it('is also one JSON log line per row (logger component audit), without secrets', async () => {
    const lines = srv.child.output.split('\n').filter((l) => l.includes('"component":"audit"'));
    expect(lines.length).toBeGreaterThan(5);
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.some((p) => p.audit?.tokenName === 'web-ops' && p.audit?.code === 403)).toBe(true);
    for (const t of Object.values(tokens)) expect(lines.join('\n')).not.toContain(t);
    expect(lines.join('\n')).not.toContain(OUTPUT_MARK);
  });
});
