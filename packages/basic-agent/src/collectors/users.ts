import { readFileSync } from 'node:fs';
import { ErrorCode } from '@aspire/protocol/error-codes';
import { allGroups, allUsers, isSystemUid, uidRange, type PasswdEntry, type UidRange } from '../host/accounts.ts';
import { CollectorError, badArgument, type Collector } from './collector.ts';

export interface PasswordState {
  /** passwd -S words: P usable password, L locked, NP no password. */
  status: 'P' | 'L' | 'NP';
  locked: boolean;
  /** chage -l "Last password change": YYYY-MM-DD, "never", or "password must be changed". */
  last_change: string;
  /** chage -l "Password expires" / "Password inactive" / "Account expires": date or "never". */
  password_expires: string;
  password_inactive: string;
  account_expires: string;
  min_days: number | null;
  max_days: number | null;
  warn_days: number | null;
  inactive_days: number | null;
}

export interface UserInfo {
  name: string;
  uid: number;
  gid: number;
  group: string | null;
  groups: string[];
  home: string;
  shell: string;
  gecos: string;
  system: boolean;
  password?: PasswordState;
}

type Mode = { kind: 'all' } | { kind: 'normal' } | { kind: 'system' } | { kind: 'one'; name: string };

function parseMode(args: string[]): Mode {
  if (args.length === 0) return { kind: 'all' };
  const [flag, value, ...rest] = args;
  if (flag === '-U') {
    if (!value || rest.length) throw badArgument('-U takes exactly one user name');
    return { kind: 'one', name: value };
  }
  if (value !== undefined) throw badArgument(`unexpected ${JSON.stringify(args.slice(1).join(' '))}`);
  if (flag === '-A') return { kind: 'all' };
  if (flag === '-u') return { kind: 'normal' };
  if (flag === '-S') return { kind: 'system' };
  throw badArgument(`unknown option ${JSON.stringify(flag)} (use -U NAME, -A, -u or -S)`);
}

const DAY_MS = 86_400_000;

function day(n: number): string {
  return new Date(n * DAY_MS).toISOString().slice(0, 10);
}

function num(s: string | undefined): number | null {
  return s === undefined || s === '' ? null : Number(s);
}

/** One /etc/shadow line into what `chage -l` shows (shadow-utils src/chage.c list_fields). */
export function passwordState(fields: string[]): PasswordState {
  const hash = fields[1] ?? '';
  const lastchg = num(fields[2]);
  const min = num(fields[3]);
  const max = num(fields[4]);
  const warn = num(fields[5]);
  const inactive = num(fields[6]);
  const expire = num(fields[7]);
  const locked = hash.startsWith('!');
  const status = locked || hash.startsWith('*') ? 'L' : hash === '' ? 'NP' : 'P';
  const lastChange = lastchg === null ? 'never' : lastchg === 0 ? 'password must be changed' : day(lastchg);
  const expires =
    lastchg === null || lastchg === 0 || max === null || max >= 10000 || max < 0
      ? lastchg === 0
        ? 'password must be changed'
        : 'never'
      : day(lastchg + max);
  const inact =
    lastchg === null || lastchg === 0 || max === null || max >= 10000 || max < 0 || inactive === null || inactive < 0
      ? lastchg === 0
        ? 'password must be changed'
        : 'never'
      : day(lastchg + max + inactive);
  return {
    status,
    locked: status === 'L',
    last_change: lastChange,
    password_expires: expires,
    password_inactive: inact,
    account_expires: expire === null || expire < 0 ? 'never' : day(expire),
    min_days: min,
    max_days: max,
    warn_days: warn,
    inactive_days: inactive,
  };
}

function readShadow(): Map<string, string[]> | undefined {
  try {
    const map = new Map<string, string[]>();
    for (const line of readFileSync('/etc/shadow', 'utf8').split('\n')) {
      if (!line) continue;
      const f = line.split(':');
      map.set(f[0]!, f);
    }
    return map;
  } catch {
    // Not root: the password state is left out, the rest is still answered (the design: needs root).
    return undefined;
  }
}

/** -u, -S: the classes of useradd and login.defs (normal = UID_MIN..UID_MAX, everything else system). */
export function selectUsers<T extends { uid: number }>(users: T[], kind: 'normal' | 'system', range: UidRange): T[] {
  return users.filter((u) => isSystemUid(u.uid, range) === (kind === 'system'));
}

export function collectUsers(args: string[]): UserInfo[] {
  const mode = parseMode(args);
  const range = uidRange();
  const groups = allGroups();
  const groupName = new Map(groups.map((g) => [g.gid, g.name]));
  const shadow = readShadow();
  const info = (u: PasswdEntry): UserInfo => {
    const supplementary = groups.filter((g) => g.members.includes(u.name)).map((g) => g.name);
    const primary = groupName.get(u.gid) ?? null;
    const all = primary && !supplementary.includes(primary) ? [primary, ...supplementary] : supplementary;
    const sh = shadow?.get(u.name);
    return {
      name: u.name,
      uid: u.uid,
      gid: u.gid,
      group: primary,
      groups: all,
      home: u.home,
      shell: u.shell,
      gecos: u.gecos,
      system: isSystemUid(u.uid, range),
      ...(sh ? { password: passwordState(sh) } : {}),
    };
  };
  const users = allUsers();
  switch (mode.kind) {
    case 'one': {
      const u = users.find((x) => x.name === mode.name);
      if (!u) throw new CollectorError(ErrorCode.COLLECTOR_NOT_FOUND, `no user ${JSON.stringify(mode.name)}`);
      return [info(u)];
    }
    case 'all':
      return users.map(info);
    case 'normal':
    case 'system':
      // -u and -S together are exactly -A.
      return selectUsers(users, mode.kind, range).map(info);
  }
}

export const usersCollector: Collector = {
  name: 'users',
  run: async (args) => collectUsers(args),
};
