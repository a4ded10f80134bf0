import { readFileSync, statfsSync } from 'node:fs';
import { ErrorCode } from '@aspire/protocol';
import { CollectorError, noArgs, type Collector } from './collector.ts';

/** File systems that hold no disk data (what `df -x` users exclude). */
const PSEUDO = new Set([
  'proc', 'sysfs', 'devtmpfs', 'devpts', 'cgroup', 'cgroup2', 'securityfs', 'pstore', 'debugfs',
  'tracefs', 'configfs', 'fusectl', 'mqueue', 'hugetlbfs', 'bpf', 'autofs', 'binfmt_misc',
  'rpc_pipefs', 'nsfs', 'selinuxfs', 'efivarfs', 'ramfs', 'squashfs',
]);

/** Mounted file systems with size and use (statfs over /proc/self/mounts). */
export const disksCollector: Collector = {
  name: 'disks',
  summary: 'mounted file systems: size, used, free, inodes',
  async run(args) {
    noArgs('disks', args);
    let mounts: string;
    try {
      mounts = readFileSync('/proc/self/mounts', 'utf8');
    } catch (err) {
      throw new CollectorError(ErrorCode.COLLECTOR_FAILED, (err as Error).message);
    }
    const seen = new Set<string>();
    const out = [];
    for (const line of mounts.split('\n')) {
      const [device, rawMount, fstype] = line.split(' ');
      if (!device || !rawMount || !fstype || PSEUDO.has(fstype)) continue;
      const mount = rawMount.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
      if (seen.has(mount)) continue;
      seen.add(mount);
      try {
        const s = statfsSync(mount);
        if (s.blocks === 0) continue;
        const size = s.blocks * s.bsize;
        out.push({
          device,
          mount,
          fstype,
          size,
          used: (s.blocks - s.bfree) * s.bsize,
          available: s.bavail * s.bsize,
          inodes: s.files,
          inodes_free: s.ffree,
        });
      } catch {
        /* a mount that vanished or is not reachable (stale NFS): skipped */
      }
    }
    return out;
  },
};
