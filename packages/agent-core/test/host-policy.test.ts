import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { operatorPublicKeyBase64 } from '@aspire/protocol';
import {
  ALLOW_ALL_POLICY,
  ConfigError,
  jsonErrorOffset,
  lineColumnAt,
  loadHostPolicy,
  parseHostPolicy,
  policyAllowsCollector,
  policyAllowsCommand,
  policyAllowsJob,
  policyFileOwnerProblem,
} from '../src/index.ts';

const SRC = '/etc/basicagent/policy.json';
const strict = parseHostPolicy(
  JSON.stringify({
    version: 1,
    commands: [{ exact: 'uptime' }, { prefix: 'systemctl status ' }, { pattern: 'ls( -l)? /var/log' }],
    users: ['root', 'nobody'],
    collectors: ['os', 'getinfo.users'],
    actions: ['install', 'restart'],
    sources: ['https://repo.example/pkgs/', 'file://'],
  }),
  SRC,
);

function problems(text: string): string[] {
  try {
    parseHostPolicy(text, SRC);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain(SRC);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('host policy: commands', () => {
  it('exact matches only the whole command', () => {
    expect(policyAllowsCommand(strict, 'uptime', undefined)).toEqual({ ok: true });
    expect(policyAllowsCommand(strict, 'uptime ', undefined).ok).toBe(false);
    expect(policyAllowsCommand(strict, 'uptime; id', undefined).ok).toBe(false);
  });

  it('prefix allows plain arguments after it, never chaining, substitution or redirection', () => {
    expect(policyAllowsCommand(strict, 'systemctl status sshd', 'root').ok).toBe(true);
    expect(policyAllowsCommand(strict, 'systemctl status sshd crond', 'root').ok).toBe(true);
    for (const bad of [
      'systemctl status x; rm -rf /',
      'systemctl status $(id)',
      'systemctl status `id`',
      'systemctl status x && id',
      'systemctl status x > /etc/passwd',
      'systemctl status x\nid',
      'systemctl stop sshd',
    ]) {
      const v = policyAllowsCommand(strict, bad, 'root');
      expect(v.ok, bad).toBe(false);
    }
  });

  it('pattern must match the whole command', () => {
    expect(policyAllowsCommand(strict, 'ls /var/log', undefined).ok).toBe(true);
    expect(policyAllowsCommand(strict, 'ls -l /var/log', undefined).ok).toBe(true);
    expect(policyAllowsCommand(strict, 'ls /var/log; id', undefined).ok).toBe(false);
    expect(policyAllowsCommand(strict, 'xls /var/log', undefined).ok).toBe(false);
  });

  it('the refusal names the rule: command, then user (absent user is root)', () => {
    const c = policyAllowsCommand(strict, 'touch /tmp/x', 'root');
    expect(c).toMatchObject({ ok: false, rule: 'command' });
    expect(c.ok === false && c.message).toBe(
      `refused by host policy ${SRC}: command "touch /tmp/x" is not allowed (matches no exact, prefix or pattern rule)`,
    );
    const u = policyAllowsCommand(strict, 'uptime', 'daemon');
    expect(u).toMatchObject({ ok: false, rule: 'user' });
    expect(u.ok === false && u.message).toContain('user "daemon" is not allowed');
    expect(policyAllowsCommand(strict, 'uptime', 'nobody').ok).toBe(true);
    const onlyNobody = parseHostPolicy('{"users":["nobody"]}', SRC);
    expect(policyAllowsCommand(onlyNobody, 'id', undefined)).toMatchObject({ ok: false, rule: 'user' });
  });
});

describe('host policy: collectors, actions, sources', () => {
  it('collectors by name, with or without getinfo.', () => {
    expect(policyAllowsCollector(strict, 'getinfo.os').ok).toBe(true);
    expect(policyAllowsCollector(strict, 'getinfo.users').ok).toBe(true);
    expect(policyAllowsCollector(strict, 'getinfo.processes')).toMatchObject({ ok: false, rule: 'collector' });
  });

  it('job actions and package sources (command:// not listed is refused; a prefix ends at "/")', () => {
    expect(policyAllowsJob(strict, 'install', 'https://repo.example/pkgs/a-1.tar.gz').ok).toBe(true);
    expect(policyAllowsJob(strict, 'restart', undefined).ok).toBe(true);
    expect(policyAllowsJob(strict, 'uninstall', undefined)).toMatchObject({ ok: false, rule: 'action' });
    expect(policyAllowsJob(strict, 'install', 'command://touch /tmp/x')).toMatchObject({ ok: false, rule: 'source' });
    expect(policyAllowsJob(strict, 'install', 'https://repo.example/pkgsevil/a.tar.gz')).toMatchObject({
      ok: false,
      rule: 'source',
    });
    expect(policyAllowsJob(strict, 'install', 'file:///opt/a.tar.gz').ok).toBe(true);
    const v = policyAllowsJob(strict, 'install', 'https://user:secret@other.example/a.tar.gz');
    expect(v.ok === false && v.message).not.toContain('secret');
  });

  it('the default (absent keys, "*", missing file) allows everything', () => {
    const open = parseHostPolicy('{"commands":"*","users":"*"}', SRC);
    for (const p of [open, ALLOW_ALL_POLICY, loadHostPolicy('/nonexistent/aspire/policy.json')]) {
      expect(policyAllowsCommand(p, 'rm -rf /tmp/x; id', 'anyone').ok).toBe(true);
      expect(policyAllowsCollector(p, 'getinfo.processes').ok).toBe(true);
      expect(policyAllowsJob(p, 'config', 'command://rpm -i x.rpm').ok).toBe(true);
      expect(p.requireOperatorSignature).toBe(false);
    }
  });

  it('the value is frozen', () => {
    expect(Object.isFrozen(strict)).toBe(true);
    expect(Object.isFrozen(strict.commands)).toBe(true);
    expect(() => (strict.users as string[]).push('evil')).toThrow();
  });
});

describe('host policy: run-as groups (review finding 3)', () => {
  const primary = (u: string) => ({ nobody: 'nogroup', root: 'root' })[u];

  it('a groups list allows only the groups it names', () => {
    const p = parseHostPolicy('{"users":["nobody"],"groups":["nogroup","staff"]}', SRC);
    expect(policyAllowsCommand(p, 'id', 'nobody', 'staff', primary).ok).toBe(true);
    const v = policyAllowsCommand(p, 'id', 'nobody', 'disk', primary);
    expect(v).toMatchObject({ ok: false, rule: 'group' });
    expect(v.ok === false && v.message).toContain('group "disk" is not allowed (allowed: nogroup staff)');
    expect(policyAllowsCommand(p, 'id', 'nobody', undefined, primary).ok).toBe(true);
  });

  it("users listed but no groups list: only the user's primary group", () => {
    const onlyNobody = parseHostPolicy('{"users":["nobody"]}', SRC);
    expect(policyAllowsCommand(onlyNobody, 'id', 'nobody', 'nogroup', primary).ok).toBe(true);
    expect(policyAllowsCommand(onlyNobody, 'id', 'nobody', undefined, primary).ok).toBe(true);
    const v = policyAllowsCommand(onlyNobody, 'id', 'nobody', 'disk', primary);
    expect(v).toMatchObject({ ok: false, rule: 'group' });
    expect(v.ok === false && v.message).toContain('only the primary group of "nobody" (nogroup)');
    // An unknown user has no primary group: any group is refused.
    expect(policyAllowsCommand(parseHostPolicy('{"users":["ghost"]}', SRC), 'id', 'ghost', 'ghost', primary).ok).toBe(
      false,
    );
  });

  it('the default primary group comes from the system (id -gn)', () => {
    const onlyRoot = parseHostPolicy('{"users":["root"]}', SRC);
    expect(policyAllowsCommand(onlyRoot, 'id', 'root', 'root').ok).toBe(true);
    expect(policyAllowsCommand(onlyRoot, 'id', 'root', 'disk').ok).toBe(false);
  });

  it('no users and no groups list (the default): any group, as before', () => {
    for (const p of [ALLOW_ALL_POLICY, parseHostPolicy('{"commands":"*"}', SRC)])
      expect(policyAllowsCommand(p, 'id', 'nobody', 'disk', primary).ok).toBe(true);
  });

  it('a bad group name is a problem of the file', () => {
    expect(problems('{"groups":["bad name"]}')).toEqual([expect.stringMatching(/^groups\[0\]: must be a group name/)]);
  });
});

describe('host policy: sources are compared normalised (review finding 7)', () => {
  const p = parseHostPolicy('{"sources":["https://repo.example/pkgs/","file:///opt/aspire/packages/"]}', SRC);

  it('".." segments and percent-encoded dots cannot leave the allowed directory', () => {
    for (const url of [
      'https://repo.example/pkgs/../x.tgz',
      'file:///opt/aspire/packages/../../tmp/x',
      'file:///opt/aspire/packages/%2e%2e/%2E%2E/tmp/x',
      'https://repo.example/pkgs/..%2fx',
      'https://repo.example/pkgs/..\\x',
      'https://repo.example/pkgs/./a.tgz',
    ]) {
      const v = policyAllowsJob(p, 'install', url);
      expect(v, url).toMatchObject({ ok: false, rule: 'source' });
    }
    const v = policyAllowsJob(p, 'install', 'file:///opt/aspire/packages/../../tmp/x');
    expect(v.ok === false && v.message).toContain('".." path segment');
  });

  it('the same URL in another spelling is still allowed (scheme and host case)', () => {
    expect(policyAllowsJob(p, 'install', 'HTTPS://REPO.example/pkgs/a-1.tgz').ok).toBe(true);
    expect(policyAllowsJob(p, 'install', 'file:///opt/aspire/packages/a..b.rpm').ok).toBe(true);
  });

  it('a prefix with a ".." segment is refused when the file is read', () => {
    expect(problems('{"sources":["https://repo.example/pkgs/../"]}')).toEqual([
      expect.stringMatching(/^sources\[0\]: must be a URL prefix/),
    ]);
  });
});

describe('host policy: bad files', () => {
  it('a syntax error names the line and column', () => {
    const text = '{\n  "users": ["root"],\n  "commands": [ {"exact": "uptime"} ]\n  "collectors": ["os"]\n}\n';
    const p = problems(text);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^line 4 column 3: malformed JSON/);
    expect(problems('{\n"users": [\n')[0]).toMatch(/^line 3 column 1: malformed JSON/);
    // V8 gives no position for this one ("Unexpected token ']', ... is not valid JSON").
    expect(problems('{\n  "actions": ["install",]\n}\n')[0]).toBe(
      "line 2 column 25: malformed JSON: Unexpected token ']'",
    );
  });

  it('jsonErrorOffset finds where the text stops being JSON (where V8 says, it agrees)', () => {
    for (const bad of ['{"a":1,}', '[1,2', '{"a" 1}', '{"a":tru}', '{"a":"\\x"}', '{"a":01}', '{} x', '', '{"a":-}']) {
      let v8: number | undefined;
      try {
        JSON.parse(bad);
      } catch (err) {
        const m = /position (\d+)/.exec((err as Error).message);
        v8 = m ? Number(m[1]) : undefined;
      }
      const ours = jsonErrorOffset(bad);
      if (v8 !== undefined) expect(ours, bad).toBe(v8);
      expect(ours, bad).toBeLessThanOrEqual(bad.length);
    }
    expect(jsonErrorOffset('{"a":[1,2,]}')).toBe(10);
    expect(jsonErrorOffset(' {"a": [true, false, null, -1.5e3, "\\u00e9"]} ')).toBe(46);
  });

  it('every bad key is named', () => {
    const p = problems(
      JSON.stringify({
        users: 'root',
        commmands: [],
        commands: [{ exact: 'a', prefix: 'b' }, { pattern: '(' }, { glob: '*' }],
        actions: ['reboot'],
        sources: ['https://repo.example'],
        collectors: ['Bad Name'],
      }),
    );
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^commmands: unknown key/),
        expect.stringMatching(/^users: must be "\*"/),
        expect.stringMatching(/^commands\[0\]: must have exactly one of/),
        expect.stringMatching(/^commands\[1\]\.pattern: /),
        expect.stringMatching(/^commands\[2\]: must have exactly one of/),
        expect.stringMatching(/^actions\[0\]: must be one of install/),
        expect.stringMatching(/^sources\[0\]: must be a URL prefix/),
        expect.stringMatching(/^collectors\[0\]: must be a collector name/),
      ]),
    );
    expect(problems('[]')).toEqual(['(top level): must be a JSON object']);
  });

  it('operator-signature mode needs valid keys', () => {
    expect(problems('{"requireOperatorSignature": true}')[0]).toMatch(
      /^operatorKeys: requireOperatorSignature is true/,
    );
    expect(problems('{"requireOperatorSignature": true, "operatorKeys": ["nope"]}')[0]).toMatch(
      /^operatorKeys\[0\]: must be base64 of 32 bytes/,
    );
    const { publicKey } = generateKeyPairSync('ed25519');
    const p = parseHostPolicy(
      JSON.stringify({ requireOperatorSignature: true, operatorKeys: [operatorPublicKeyBase64(publicKey)] }),
      SRC,
    );
    expect(p.requireOperatorSignature).toBe(true);
    expect(p.operatorKeys).toHaveLength(1);
  });

  it("owner and mode: root or the agent's own user, never group/other writable", () => {
    expect(policyFileOwnerProblem({ uid: 0, mode: 0o100644 }, 0)).toBeUndefined();
    expect(policyFileOwnerProblem({ uid: 0, mode: 0o100600 }, 1000)).toBeUndefined();
    expect(policyFileOwnerProblem({ uid: 1000, mode: 0o100644 }, 1000)).toBeUndefined();
    expect(policyFileOwnerProblem({ uid: 1000, mode: 0o100644 }, 0)).toMatch(
      /must be owned by root \(owner uid 1000\)/,
    );
    expect(policyFileOwnerProblem({ uid: 0, mode: 0o100664 }, 0)).toMatch(
      /not be writable by group or others \(mode 0664/,
    );
    expect(policyFileOwnerProblem({ uid: 0, mode: 0o100646 }, 0)).toMatch(/mode 0646/);
  });

  it('lineColumnAt counts from 1', () => {
    expect(lineColumnAt('ab\ncd', 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumnAt('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
  });
});

describe('the packaged policy files (rpm/)', () => {
  const shipped = (p: string) =>
    parseHostPolicy(readFileSync(new URL(`../../../rpm/${p}`, import.meta.url), 'utf8'), p);

  it("the defaults allow everything (today's behaviour)", () => {
    for (const p of [shipped('basicagent/policy.json'), shipped('bootagent/policy.json')]) {
      expect(policyAllowsCommand(p, 'anything at all; id', 'daemon').ok).toBe(true);
      expect(policyAllowsCollector(p, 'getinfo.users').ok).toBe(true);
      expect(policyAllowsJob(p, 'config', 'command://rpm -i x.rpm').ok).toBe(true);
      expect(p.requireOperatorSignature).toBe(false);
    }
  });

  it('the strict examples parse and are strict', () => {
    const basic = shipped('basicagent/policy.strict.example.json');
    expect(policyAllowsCommand(basic, 'systemctl status sshd', 'root').ok).toBe(true);
    expect(policyAllowsCommand(basic, 'rm -rf /', 'root').ok).toBe(false);
    expect(policyAllowsCollector(basic, 'getinfo.users').ok).toBe(false);
    expect(basic.requireOperatorSignature).toBe(true);
    const boot = shipped('bootagent/policy.strict.example.json');
    expect(policyAllowsJob(boot, 'install', 'command://touch /x').ok).toBe(false);
    expect(policyAllowsJob(boot, 'config', undefined).ok).toBe(false);
    expect(policyAllowsJob(boot, 'install', 'https://aspire.example.internal/agent/package/1/a.rpm').ok).toBe(true);
  });
});
