// Roles, scopes and address allow lists as pure checks (http/operator-scope.ts, scope-gate.ts,
// the route role table), and the server-wide operatorCidrs through buildServer + app.inject.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@aspire/agent-core';
import { ManualClock } from '@aspire/testing';
import { buildServer } from '../src/app.ts';
import { checkConfig } from '../src/config.ts';
import { requiredRole } from '../src/http/operator-auth.ts';
import {
  addressAllowed,
  addressList,
  checkScope,
  commandAllowed,
  groupAllowed,
  hostInScope,
  parseCommandRule,
  roleAtLeast,
  taskPartsOutside,
  userAllowed,
} from '../src/http/operator-scope.ts';
import type { HostFacts, Operator } from '../src/http/operator.ts';
import { scopeRefusal, taskLineReadings } from '../src/http/scope-gate.ts';
import { sha256Hex } from '../src/http/secrets.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';

const host = (agentsn: string, tags: string[] = [], region = 0, regionName: string | null = null): HostFacts => ({
  agentsn,
  hostname: agentsn,
  tags,
  region,
  regionName,
});

describe('roles', () => {
  it('viewer < operator < admin, and each route needs the role of the table', () => {
    expect(roleAtLeast('admin', 'operator')).toBe(true);
    expect(roleAtLeast('operator', 'admin')).toBe(false);
    expect(roleAtLeast('viewer', 'viewer')).toBe(true);
    expect(requiredRole('GET', '/api/v1/server/host')).toBe('viewer');
    expect(requiredRole('GET', '/api/v1/server/audit')).toBe('admin');
    expect(requiredRole('POST', '/api/v1/server/task')).toBe('operator');
    expect(requiredRole('POST', '/api/v1/server/polaris')).toBe('operator');
    expect(requiredRole('DELETE', '/api/v1/server/package')).toBe('admin');
    expect(requiredRole('DELETE', '/api/v1/server/host')).toBe('admin');
    expect(requiredRole('POST', '/api/v1/server/tag/bind')).toBe('admin');
    // A route nobody listed needs admin (fail safe).
    expect(requiredRole('POST', '/api/v1/server/something-new')).toBe('admin');
  });
});

describe('checkScope', () => {
  it('accepts every axis and lists every problem', () => {
    expect(checkScope({})).toEqual({ ok: true, scope: {} });
    const good = checkScope({
      tags: ['role=web'],
      regions: ['1', 'eu'],
      agentsn: ['sn'],
      commands: [{ kind: 'prefix', value: 'echo ' }],
      users: ['nobody'],
      cidrs: ['10.0.0.0/8', '::1'],
    });
    expect(good.ok).toBe(true);
    const bad = checkScope({
      tags: ['web'],
      users: ['a b'],
      cidrs: ['10.0.0.0/33', 'host'],
      commands: [{ kind: 'regex', value: '(' }],
      colour: 1,
    });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.problems.join('\n')).toMatch(/tags: "web" is not k=v/);
      expect(bad.problems.join('\n')).toMatch(/users: "a b"/);
      expect(bad.problems.join('\n')).toMatch(/"10.0.0.0\/33" is not an address or CIDR/);
      expect(bad.problems.join('\n')).toMatch(/"host" is not an address/);
      expect(bad.problems.join('\n')).toMatch(/regex "\("/);
      expect(bad.problems.join('\n')).toMatch(/colour: unknown scope key/);
    }
    expect(checkScope([]).ok).toBe(false);
  });
});

describe('host, command, user and address checks', () => {
  it('a host is inside when it matches any selector entry; no selector = every host', () => {
    expect(hostInScope({}, host('x'))).toBe(true);
    const s = { tags: ['role=web'], regions: ['eu'], agentsn: ['sn-1'] };
    expect(hostInScope(s, host('sn-1'))).toBe(true);
    expect(hostInScope(s, host('sn-2', ['role=web']))).toBe(true);
    expect(hostInScope(s, host('sn-3', [], 4, 'eu'))).toBe(true);
    expect(hostInScope({ regions: ['4'] }, host('sn-3', [], 4, 'eu'))).toBe(true);
    expect(hostInScope(s, host('sn-4', ['role=db'], 2, 'us'))).toBe(false);
  });

  it('exact, prefix (no shell control after it) and anchored regex rules', () => {
    const s = { commands: ['uptime', 'prefix:systemctl status ', 'regex:ls( -l)? /tmp'].map(parseCommandRule) };
    expect(commandAllowed(s, 'uptime')).toBe(true);
    expect(commandAllowed(s, 'uptime; id')).toBe(false);
    expect(commandAllowed(s, 'systemctl status nginx')).toBe(true);
    for (const c of [
      'systemctl status x; rm -rf /',
      'systemctl status $(id)',
      'systemctl status x | sh',
      'systemctl status `id`',
      'systemctl status x\nid',
      'systemctl status x && id',
    ]) {
      expect(commandAllowed(s, c), c).toBe(false);
    }
    expect(commandAllowed(s, 'ls -l /tmp')).toBe(true);
    expect(commandAllowed(s, 'ls /tmp; id')).toBe(false);
    expect(commandAllowed({}, 'anything')).toBe(true);
    expect(userAllowed({ users: ['nobody'] }, 'root')).toBe(false);
    expect(userAllowed({}, 'root')).toBe(true);
  });

  it('address lists: CIDRs and single addresses, IPv4-mapped IPv6 counts as IPv4', () => {
    const l = addressList(['10.0.0.0/8', '::1']);
    expect(addressAllowed(l, '10.1.2.3')).toBe(true);
    expect(addressAllowed(l, '::ffff:10.1.2.3')).toBe(true);
    expect(addressAllowed(l, '127.0.0.1')).toBe(false);
    expect(addressAllowed(l, '::1')).toBe(true);
    expect(addressAllowed(l, 'garbage')).toBe(false);
    expect(addressAllowed(addressList(undefined), '192.0.2.1')).toBe(true);
  });
});

describe('scopeRefusal', () => {
  const op = (scope: Operator['scope'], known: Record<string, HostFacts>): Operator => ({
    name: 'ops',
    role: 'operator',
    scope,
    hosts: async (name) => (known[name] ? [known[name]!] : []),
  });
  const known = { web: host('sn-web', ['role=web']), db: host('sn-db', ['role=db']) };

  it('names every host outside, the command and the user; unknown hosts are outside', async () => {
    const why = await scopeRefusal(
      op({ tags: ['role=web'], commands: [parseCommandRule('uptime')], users: ['nobody'] }, known),
      {
        hosts: [{ name: 'web' }, { name: 'db' }, { name: 'ghost' }],
        commands: ['id'],
        users: ['root'],
      },
    );
    expect(why).toContain('hosts outside the scope of token "ops": "db", "ghost"');
    expect(why).toContain('command "id" is not in the allow list');
    expect(why).toContain('run-as user "root" is not allowed for token "ops" (allowed: nobody)');
    expect(
      await scopeRefusal(op({ tags: ['role=web'] }, known), {
        hosts: [{ name: 'web' }],
        commands: ['id'],
        users: ['root'],
      }),
    ).toBeUndefined();
  });

  it('a tag task is inside only when it asks for one of the scope tags', async () => {
    const o = op({ tags: ['role=web'] }, known);
    expect(await scopeRefusal(o, { tags: 'role=web,dc=1', commands: [], users: [] })).toBeUndefined();
    expect(await scopeRefusal(o, { tags: 'dc=1', commands: [], users: [] })).toMatch(
      /tags "dc=1" select hosts outside/,
    );
    expect(await scopeRefusal(op({}, known), { tags: 'dc=1', commands: [], users: [] })).toBeUndefined();
  });

  it('task lines are read every plausible way', () => {
    expect(taskLineReadings('*/5 * * * * * root id')).toEqual([{ user: 'root', command: 'id' }]);
    expect(taskLineReadings('@hourly nobody echo hi')).toEqual([{ user: 'nobody', command: 'echo hi' }]);
    // Five or six schedule fields: both readings are checked.
    expect(taskLineReadings('0 0 * * * 1 root uptime')).toEqual([
      { user: '1', command: 'root uptime' },
      { user: 'root', command: 'uptime' },
    ]);
  });
});

describe('run-as groups, task sources, envs and config (review findings 3, 4, 7)', () => {
  const op = (scope: Operator['scope']): Operator => ({ name: 'ops', role: 'operator', scope, hosts: async () => [] });

  it('checkScope takes groups, sources and allow, and refuses bad entries', () => {
    const good = checkScope({
      users: ['nobody'],
      groups: ['nogroup'],
      sources: ['https://repo.example/pkgs/', 'command://'],
      allow: ['envs', 'config'],
    });
    expect(good.ok).toBe(true);
    const bad = checkScope({
      groups: ['a b'],
      sources: ['https://repo.example', 'https://repo.example/pkgs/../'],
      allow: ['shell'],
    });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.problems.join('\n')).toMatch(/groups: "a b" is not a group name/);
      expect(bad.problems.join('\n')).toMatch(/sources: "https:\/\/repo.example" is not a URL prefix/);
      expect(bad.problems.join('\n')).toMatch(/sources: "https:\/\/repo.example\/pkgs\/..\/" is not a URL prefix/);
      expect(bad.problems.join('\n')).toMatch(/allow: "shell" is not one of envs config/);
    }
  });

  it('a group: absent always allowed; a groups list names them; users without groups allow none', () => {
    expect(groupAllowed({}, 'disk')).toBe(true);
    expect(groupAllowed({ users: ['nobody'] }, undefined)).toBe(true);
    expect(groupAllowed({ users: ['nobody'] }, 'disk')).toBe(false);
    expect(groupAllowed({ users: ['nobody'], groups: ['nogroup'] }, 'nogroup')).toBe(true);
    expect(groupAllowed({ groups: ['nogroup'] }, 'disk')).toBe(false);
  });

  it('scopeRefusal names the group outside', async () => {
    const why = await scopeRefusal(op({ users: ['nobody'] }), {
      commands: ['id'],
      users: ['nobody'],
      groups: ['disk'],
    });
    expect(why).toContain('run-as group "disk" is not allowed for token "ops"');
    expect(await scopeRefusal(op({ users: ['nobody'] }), { commands: ['id'], users: ['nobody'] })).toBeUndefined();
  });

  it('a limited scope: sources normalised, command:// only when listed, envs and config only when allowed', () => {
    const s = { commands: [parseCommandRule('prefix:install ')], sources: ['https://repo.example/pkgs/'] };
    expect(taskPartsOutside(s, 'install', { name: 'a', url: 'https://repo.example/pkgs/a.tgz' })).toEqual([]);
    expect(taskPartsOutside(s, 'install', { name: 'a', url: 'HTTPS://REPO.EXAMPLE/pkgs/a.tgz' })).toEqual([]);
    expect(taskPartsOutside(s, 'install', { name: 'a', version: '1' })).toEqual([]);
    expect(taskPartsOutside(s, 'install', { name: 'a', url: 'command://touch /x' })[0]).toMatch(
      /^source "command:\/\/touch \/x" \(allowed sources: https:\/\/repo.example\/pkgs\/\)/,
    );
    expect(taskPartsOutside(s, 'upgrade', { name: 'a', url: 'https://repo.example/pkgs/../evil/a.tgz' })[0]).toMatch(
      /"\.\." path segment/,
    );
    expect(
      taskPartsOutside(s, 'install', {
        name: 'a',
        url: 'https://repo.example/pkgs/a.tgz',
        envs: { LD_PRELOAD: '/tmp/x.so' },
      }),
    ).toEqual(['envs (LD_PRELOAD) not allowed (scope allow: envs)']);
    expect(taskPartsOutside(s, 'config', { svrlist: 'evil:1' })).toEqual([
      'config job not allowed (scope allow: config)',
    ]);
    // A commands list alone allows only uploaded packages.
    expect(
      taskPartsOutside({ commands: [parseCommandRule('prefix:install ')] }, 'install', {
        name: 'a',
        url: 'https://x/a.tgz',
      })[0],
    ).toContain('only uploaded packages');
    // Explicitly allowed.
    const wide = { ...s, sources: ['command://'], allow: ['envs', 'config'] as ('envs' | 'config')[] };
    expect(taskPartsOutside(wide, 'install', { name: 'a', url: 'command://touch /x', envs: { A: '1' } })).toEqual([]);
    expect(taskPartsOutside(wide, 'config', { svrlist: 'a:1' })).toEqual([]);
    // No commands or sources list (admin tokens, host-only scopes): unchanged.
    expect(
      taskPartsOutside({}, 'install', { name: 'a', url: 'command://touch /x', envs: { LD_PRELOAD: 'x' } }),
    ).toEqual([]);
    expect(taskPartsOutside({ tags: ['role=web'] }, 'config', {})).toEqual([]);
  });

  it('scopeRefusal of a task names what was outside', async () => {
    const why = await scopeRefusal(op({ commands: [parseCommandRule('prefix:install ')] }), {
      commands: ['install a'],
      users: ['root'],
      task: { command: 'install', parameters: { name: 'a', url: 'command://id', envs: { LD_PRELOAD: 'x' } } },
    });
    expect(why).toContain('outside the scope of token "ops": source "command://id"');
    expect(why).toContain('envs (LD_PRELOAD)');
  });
});

describe('server-wide operatorCidrs', () => {
  it('refuses every operator request from outside the list with 403, before the token is looked at', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aspire-unit-'));
    const store = openSqliteStore(join(dir, 'aspire.db'));
    try {
      await store.createToken('adm', sha256Hex('asp_operator-cidrs-test-token'), 0);
      for (const [cidrs, expected] of [
        [['10.0.0.0/8'], 403],
        [['127.0.0.0/8'], 200],
      ] as const) {
        const { config } = checkConfig({ dataDir: dir, operatorCidrs: cidrs }, 'test');
        const server = await buildServer({ store, clock: new ManualClock(), logger: silentLogger(), config });
        const res = await server.app.inject({
          method: 'GET',
          url: '/api/v1/server/host',
          headers: { authorization: 'Bearer asp_operator-cidrs-test-token' },
        });
        expect(res.statusCode, JSON.stringify(cidrs)).toBe(expected);
        if (expected === 403)
          expect(res.json().cause).toMatch(/not in the server's operator address allow list \(operatorCidrs\)/);
        await server.stop();
      }
      expect(() => checkConfig({ dataDir: dir, operatorCidrs: ['nope'] }, 'test')).toThrow(/operatorCidrs/);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
