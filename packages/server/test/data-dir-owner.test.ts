import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { becomeDataDirOwner, type ProcessIds } from '../src/data-dir-owner.ts';

const dir = mkdtempSync(join(tmpdir(), 'owner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Records the id switches instead of making them. */
function ids(uid: number): ProcessIds & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    getuid: () => uid,
    setgroups: (g) => calls.push(`setgroups ${g.join(',')}`),
    setgid: (g) => calls.push(`setgid ${g}`),
    setuid: (u) => calls.push(`setuid ${u}`),
  };
}

describe('token commands on the service data dir', () => {
  it.runIf(process.getuid?.() === 0)(
    'root on a dir owned by another user: groups, group, then user become the owner',
    () => {
      const d = mkdtempSync(join(dir, 'svc-'));
      chownSync(d, 990, 991);
      const p = ids(0);
      expect(becomeDataDirOwner(d, p)).toEqual({ kind: 'switched', uid: 990, gid: 991 });
      expect(p.calls).toEqual(['setgroups 991', 'setgid 991', 'setuid 990']);
    },
  );

  it('not root, a root-owned dir, or no dir yet: nothing changes', () => {
    const notRoot = ids(1000);
    expect(becomeDataDirOwner(dir, notRoot)).toEqual({ kind: 'unchanged' });
    const rootOnMissing = ids(0);
    expect(becomeDataDirOwner(join(dir, 'missing'), rootOnMissing)).toEqual({ kind: 'unchanged' });
    expect([...notRoot.calls, ...rootOnMissing.calls]).toEqual([]);
  });
});
