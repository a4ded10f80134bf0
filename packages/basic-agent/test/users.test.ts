import { describe, expect, it } from 'vitest';
import { passwordState, selectUsers } from '../src/collectors/users.ts';
import { DEFAULT_UID_RANGE, isSystemUid, parsePasswd, parseUidRange } from '../src/host/accounts.ts';
import { splitArgs } from '../src/collectors/collector.ts';
import { parseRedirect } from '../src/channel/resolve.ts';

// The rules of shadow-utils chage.c list_fields, one /etc/shadow line at a time.
describe('password state (/etc/shadow as chage -l shows it)', () => {
  it('a usable password with aging', () => {
    expect(passwordState('alice:$6$salt$hash:20000:1:90:7:14:20500:'.split(':'))).toEqual({
      status: 'P',
      locked: false,
      last_change: '2024-10-04',
      password_expires: '2025-01-02',
      password_inactive: '2025-01-16',
      account_expires: '2026-02-16',
      min_days: 1,
      max_days: 90,
      warn_days: 7,
      inactive_days: 14,
    });
  });

  it('locked, never expiring (max 99999), empty fields', () => {
    const s = passwordState('bob:!$6$x$y:19000:0:99999:7:::'.split(':'));
    expect(s).toMatchObject({
      status: 'L',
      locked: true,
      password_expires: 'never',
      password_inactive: 'never',
      account_expires: 'never',
      inactive_days: null,
    });
  });

  it('last change 0 forces a change; no password is NP', () => {
    expect(passwordState('c::0:0:90:7:::'.split(':'))).toMatchObject({
      status: 'NP',
      last_change: 'password must be changed',
      password_expires: 'password must be changed',
      password_inactive: 'password must be changed',
    });
    expect(passwordState('d:*:::::::'.split(':'))).toMatchObject({ status: 'L', last_change: 'never' });
  });
});

// useradd's classes: normal = UID_MIN..UID_MAX of login.defs; everything else (root, nobody) is system.
describe('normal and system accounts (-u, -S)', () => {
  const loginDefs = [
    '# /etc/login.defs (Debian excerpt)',
    'UID_MIN\t\t\t 1000',
    'UID_MAX\t\t\t60000',
    '#SYS_UID_MIN\t\t  100',
    'SUB_UID_MIN\t\t   100000',
    'SUB_UID_MAX\t\t600100000',
  ].join('\n');
  const passwd = [
    'root:x:0:0:root:/root:/bin/bash',
    'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
    'sshd:x:999:65534::/run/sshd:/usr/sbin/nologin',
    'alice:x:1000:1000:Alice:/home/alice:/bin/bash',
    'bob:x:60000:60000:Bob:/home/bob:/bin/bash',
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  ].join('\n');
  const names = (xs: { name: string }[]) => xs.map((x) => x.name);

  it('reads UID_MIN and UID_MAX (not SUB_UID_*, not commented), defaults for what is missing', () => {
    expect(parseUidRange(loginDefs)).toEqual({ min: 1000, max: 60000 });
    expect(parseUidRange('UID_MIN 500\n')).toEqual({ min: 500, max: DEFAULT_UID_RANGE.max });
    expect(parseUidRange('')).toEqual(DEFAULT_UID_RANGE);
    expect(parseUidRange('UID_MAX 2000\nUID_MAX 3000\n')).toEqual({ min: 1000, max: 3000 });
  });

  it('nobody (65534, above UID_MAX) and root are system; UID_MIN and UID_MAX themselves are normal', () => {
    const range = parseUidRange(loginDefs);
    const users = parsePasswd(passwd);
    expect(names(selectUsers(users, 'normal', range))).toEqual(['alice', 'bob']);
    expect(names(selectUsers(users, 'system', range))).toEqual(['root', 'daemon', 'sshd', 'nobody']);
    expect(isSystemUid(65534, range)).toBe(true);
    expect(isSystemUid(0, range)).toBe(true);
    // A narrower range from login.defs moves bob to the system class.
    expect(names(selectUsers(users, 'system', parseUidRange('UID_MIN 1000\nUID_MAX 59999\n')))).toContain('bob');
  });
});

describe('argument and address parsing', () => {
  it('splits collector args without a shell', () => {
    expect(splitArgs('-U root')).toEqual(['-U', 'root']);
    expect(splitArgs(' -U  "a b" ')).toEqual(['-U', 'a b']);
    expect(splitArgs("-U '$(reboot)'")).toEqual(['-U', '$(reboot)']);
    expect(splitArgs(undefined)).toEqual([]);
  });

  it('reads a redirect server list (design.md §4 "127.0.10.1,10.92.1.130")', () => {
    expect(parseRedirect('127.0.10.1,10.92.1.130', 8443)).toEqual([
      { address: '127.0.10.1', port: 8443 },
      { address: '10.92.1.130', port: 8443 },
    ]);
    expect(parseRedirect(' 127.0.0.2:9000 , [::1]:9001, ::1 ,,bad:port:x', 1)).toEqual([
      { address: '127.0.0.2', port: 9000 },
      { address: '::1', port: 9001 },
      { address: '::1', port: 1 },
    ]);
  });
});
