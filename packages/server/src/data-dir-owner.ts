/**
 * `aspire token create|list|revoke` run as root on the packaged server's data dir (owned by the
 * `aspire` service user) must not leave root-owned files there: SQLite would create aspire.db,
 * its -wal and -shm as root, and the service would then die with "attempt to write a readonly
 * database". So a root process switches to the data dir's owner (group first, then user) before
 * it opens anything there, the way `runuser -u aspire` would (docs/install.md).
 */
import { statSync } from 'node:fs';

export type OwnerSwitch = { kind: 'unchanged' } | { kind: 'switched'; uid: number; gid: number };

/** The id calls of `process`: absent where the platform has no POSIX ids (then nothing changes). */
export interface ProcessIds {
  getuid?(): number;
  setgid?(id: number): void;
  setgroups?(ids: number[]): void;
  setuid?(id: number): void;
}

/** Become the owner of `dataDir` when running as root and it belongs to someone else. */
export function becomeDataDirOwner(dataDir: string, ids: ProcessIds = process): OwnerSwitch {
  if (!ids.getuid || !ids.setgid || !ids.setuid || ids.getuid() !== 0) return { kind: 'unchanged' };
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dataDir);
  } catch {
    return { kind: 'unchanged' }; // not there yet: nothing of the service's to protect
  }
  if (st.uid === 0) return { kind: 'unchanged' };
  ids.setgroups?.([st.gid]);
  ids.setgid(st.gid);
  ids.setuid(st.uid);
  return { kind: 'switched', uid: st.uid, gid: st.gid };
}
