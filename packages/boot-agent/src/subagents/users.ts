import { readFileSync } from 'node:fs';
import { JobError } from './job-error.ts';

/** Resolve a run-as user/group (name or numeric id) from /etc/passwd and /etc/group. */
function lookup(file: string, nameOrId: string): { id: number; gid?: number | undefined } | undefined {
  if (/^\d+$/.test(nameOrId)) return { id: Number(nameOrId) };
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === nameOrId && f[2] !== undefined)
      return { id: Number(f[2]), gid: f[3] !== undefined ? Number(f[3]) : undefined };
  }
  return undefined;
}

export function resolveIds(user: string | undefined, group: string | undefined): { uid?: number; gid?: number } {
  const out: { uid?: number; gid?: number } = {};
  if (user) {
    const u = lookup('/etc/passwd', user);
    if (!u) throw new JobError('JOB_START_FAILED', `user ${JSON.stringify(user)} does not exist on this host`);
    out.uid = u.id;
    if (u.gid !== undefined) out.gid = u.gid;
  }
  if (group) {
    const g = lookup('/etc/group', group);
    if (!g) throw new JobError('JOB_START_FAILED', `group ${JSON.stringify(group)} does not exist on this host`);
    out.gid = g.id;
  }
  return out;
}
