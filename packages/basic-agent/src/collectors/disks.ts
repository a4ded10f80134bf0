import { statfs } from 'node:fs/promises';
import { ErrorCode } from '@aspire/protocol/error-codes';
import { CollectorError } from './collector.ts';
import { siCollector, siFilesystem, withDeadline } from './si.ts';

/**
 * Mounted file systems with size and use: systeminformation's fsSize() (`df`, with ZFS datasets
 * corrected from `zfs list`; tmpfs-like file systems left out as df -x users do), plus the inode
 * counts from statfs, which df -k does not print. statfs is the async one: a mount that does
 * not answer holds a thread-pool thread, never the agent's event loop.
 */
export const disksCollector = siCollector({
  name: 'disks',
  load: siFilesystem,
  what: 'systeminformation fsSize()',
  call: (si) => si.fsSize(),
  shape: (list) => {
    if (list.length === 0) throw new CollectorError(ErrorCode.COLLECTOR_FAILED, 'df listed no file systems');
    return Promise.all(
      list.map(async (f) => {
        const s = await withDeadline(`statfs ${f.mount}`, statfs(f.mount), 5000).catch(() => undefined);
        return {
          device: f.fs,
          mount: f.mount,
          fstype: f.type,
          size: f.size,
          used: f.used,
          available: f.available,
          inodes: s ? s.files : null,
          inodes_free: s ? s.ffree : null,
          use_percent: f.use,
          rw: f.rw,
        };
      }),
    );
  },
});
