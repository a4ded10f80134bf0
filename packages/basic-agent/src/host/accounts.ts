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

/** UID_MIN of /etc/login.defs (default 1000, as shadow-utils assumes). */
export function uidMin(loginDefs = '/etc/login.defs'): number {
  try {
    const m = /^\s*UID_MIN\s+(\d+)/m.exec(readFileSync(loginDefs, 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    /* no login.defs: shadow-utils' compiled-in default */
  }
  return 1000;
}
