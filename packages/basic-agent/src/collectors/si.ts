/**
 * systeminformation, loaded on first use: its modules take milliseconds to evaluate, so only
 * the collectors that need one pay for it (getinfo.kernel and getinfo.users load none). esbuild
 * bundles them like any other dependency; they read nothing from the package directory at run
 * time (the index's require('../package.json') is not among them).
 *
 * What it runs on Linux (all fixed command strings through /bin/sh, nothing from a request's
 * args reaches them: these collectors take no arguments): mem reads /proc/meminfo; cpu runs
 * `lscpu` and `dmidecode -t 4`; currentLoad reads `cat /proc/stat`; fsSize runs `cat
 * /proc/mounts` and `df -kPTx squashfs` (`zfs list` when a zfs mount is present); blockDevices
 * runs `lsblk -bPo ...` (`mdadm --export --detail` per md array); networkInterfaces runs one
 * shell of `cat /sys/class/net/IFACE/...` and `iw dev IFACE link` per interface (the name
 * stripped of shell characters by the library) plus `ip route`, `ip a` and `nmcli` where present;
 * time runs `date` and `ls -l /etc/localtime`.
 */
import { ErrorCode } from '@aspire/protocol/error-codes';
import { CollectorError, noArgs, type Collector } from './collector.ts';

/**
 * The library modules, not the package index: the index evaluates all 20 modules (graphics,
 * bluetooth vendor tables, docker...) and the bundle would carry all 700 KB of them. The lib/
 * paths are the package's own files (it has no "exports" map); the integration tests run every
 * collector through the bundle, so a release that moved them fails there. si-lib.ts is loaded on
 * first use and is a chunk of its own in the bundle (scripts/build.mjs), so the Ctl parses it
 * only for a collector that needs it.
 */
type SiLib = typeof import('./si-lib.ts');
const once = <T>(pick: (m: SiLib) => () => Promise<T>): (() => Promise<T>) => {
  let p: Promise<T> | undefined;
  return () => (p ??= import('./si-lib.ts').then((m) => pick(m)()));
};

export const siMemory = once((m) => m.memory);
export const siCpu = once((m) => m.cpu);
export const siFilesystem = once((m) => m.filesystem);
export const siNetwork = once((m) => m.network);
export const siOsInfo = once((m) => m.osinfo);

/**
 * The library runs its commands without a timeout (`df` on a hung NFS mount never returns):
 * a collector gives up after this and answers COLLECTOR_FAILED instead of leaving the request
 * to the hub's deadline. The library's child is left to finish on its own.
 */
export const SI_DEADLINE_MS = 30_000;

export function withDeadline<T>(what: string, work: Promise<T>, ms = SI_DEADLINE_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new CollectorError(ErrorCode.COLLECTOR_FAILED, `${what} did not answer within ${ms / 1000} s`)),
      ms,
    );
    timer.unref();
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/**
 * A collector over systeminformation: no arguments, the library module loaded on first use, its
 * call under the deadline, the answer shaped into this collector's JSON.
 */
export function siCollector<M, T>(spec: {
  name: string;
  load: () => Promise<M>;
  /** Named in the deadline message. */
  what: string;
  call: (lib: M) => Promise<T>;
  shape: (data: T) => unknown;
}): Collector {
  return {
    name: spec.name,
    async run(args) {
      noArgs(spec.name, args);
      const lib = await spec.load();
      return spec.shape(await withDeadline(spec.what, spec.call(lib)));
    },
  };
}
