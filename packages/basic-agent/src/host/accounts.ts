import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** One passwd entry (getent passwd / /etc/passwd). */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/**
 * Account databases as NSS sees them (`getent`), so LDAP/SSSD users count as they do for
 * login; /etc/passwd and /etc/group are the fallback when getent is missing. argv only, no
 * shell: the name comes from the network.
 */
function nss(db: 'passwd' | 'group', key?: string): string | undefined {
  try {
    return execFileSync('getent', key === undefined ? [db] : [db, key], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number };
    if (e.code === 'ENOENT') {
      const text = readFileSync(`/etc/${db}`, 'utf8');
      if (key === undefined) return text;
      const byNumber = /^\d+$/.test(key);
      return text
        .split('\n')
        .filter((l) => {
          const f = l.split(':');
          return byNumber ? f[2] === key : f[0] === key;
        })
        .join('\n');
    }
    // getent exits 2 for "not found".
    if (e.status === 2) return '';
    throw err;
  }
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 7) continue;
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), gecos: f[4]!, home: f[5]!, shell: f[6]! });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    out.push({ name: f[0]!, gid: Number(f[2]), members: f[3] ? f[3].split(',').filter(Boolean) : [] });
  }
  return out;
}

export function allUsers(): PasswdEntry[] {
  return parsePasswd(nss('passwd') ?? '');
}

export function allGroups(): GroupEntry[] {
  return parseGroup(nss('group') ?? '');
}

/** A user by name (or numeric uid), undefined when the host has no such account. */
export function lookupUser(nameOrUid: string): PasswdEntry | undefined {
  if (!/^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/.test(nameOrUid)) return undefined;
  return parsePasswd(nss('passwd', nameOrUid) ?? '')[0];
}

export function lookupGroup(nameOrGid: string): GroupEntry | undefined {
  if (!/^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/.test(nameOrGid)) return undefined;
  return parseGroup(nss('group', nameOrGid) ?? '')[0];
}

/** The range of normal (login) accounts: UID_MIN..UID_MAX of login.defs, bounds included. */
export interface UidRange {
  min: number;
  max: number;
}

/** shadow-utils' compiled-in defaults, used for a key login.defs does not set. */
export const DEFAULT_UID_RANGE: Readonly<UidRange> = { min: 1000, max: 60000 };

/** UID_MIN and UID_MAX from login.defs text (the last setting of a key wins, as in shadow-utils). */
export function parseUidRange(loginDefs: string): UidRange {
  const last = (key: string): number | undefined => {
    const all = [...loginDefs.matchAll(new RegExp(`^\\s*${key}\\s+(\\d+)(?!\\S)`, 'gm'))];
    return all.length ? Number(all[all.length - 1]![1]) : undefined;
  };
  return { min: last('UID_MIN') ?? DEFAULT_UID_RANGE.min, max: last('UID_MAX') ?? DEFAULT_UID_RANGE.max };
}

/** The host's normal-account range (/etc/login.defs; the defaults when it is missing). */
export function uidRange(loginDefs = '/etc/login.defs'): UidRange {
  try {
    return parseUidRange(readFileSync(loginDefs, 'utf8'));
  } catch {
    return { ...DEFAULT_UID_RANGE };
  }
}

/**
 * A system account, as useradd and login.defs define the classes: everything outside
 * UID_MIN..UID_MAX, so root (0) and nobody (65534, above UID_MAX) are system accounts.
 */
export function isSystemUid(uid: number, range: UidRange): boolean {
  return uid < range.min || uid > range.max;
}
