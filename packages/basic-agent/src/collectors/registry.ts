// Subpaths only: BasicAgentCtl runs this module, and the package index would evaluate every wire
// schema (docs/basic-agent.md "Start-up"; test/ctl-lean.test.ts holds this).
import { ErrorCode } from '@aspire/protocol/error-codes';
import { CollectorError, splitArgs, type Collector } from './collector.ts';

/** A collector's name, its --help line and its module, loaded only when it runs. */
export interface CollectorEntry {
  name: string;
  summary: string;
  /** Collects over time before answering (BasicAgentCtl --help says so). */
  samples?: string;
  load(): Promise<Collector>;
}

/**
 * Every collector, loaded on first use: BasicAgentCtl runs one collector per process and should
 * evaluate that one only (and none for --help or --version); the daemon pays for a collector the
 * first time a request asks for it.
 */
const ENTRIES: CollectorEntry[] = [
  {
    name: 'users',
    summary:
      'accounts: -U NAME one user, -A all, -u normal (UID_MIN <= uid <= UID_MAX), -S system (the rest: root, nobody)',
    load: () => import('./users.ts').then((m) => m.usersCollector),
  },
  {
    name: 'kernel',
    summary: 'kernel release, version, arch, hostname, boot command line',
    load: () => import('./kernel.ts').then((m) => m.kernelCollector),
  },
  {
    name: 'os',
    summary: 'distribution (os-release), platform',
    load: () => import('./os-release.ts').then((m) => m.osCollector),
  },
  {
    name: 'cpu',
    summary: 'model, sockets, cores, logical CPUs, speed, cache, flags, load average, utilisation',
    samples: 'samples utilisation over 0.5 s',
    load: () => import('./cpu.ts').then((m) => m.cpuCollector),
  },
  {
    name: 'memory',
    summary: 'RAM and swap in bytes (/proc/meminfo)',
    load: () => import('./memory.ts').then((m) => m.memoryCollector),
  },
  {
    name: 'disks',
    summary: 'mounted file systems: size, used, free, inodes',
    load: () => import('./disks.ts').then((m) => m.disksCollector),
  },
  {
    name: 'blockdevices',
    summary: 'block devices (lsblk): disks, partitions, RAID, LVM; size, file system, model, serial',
    load: () => import('./block-devices.ts').then((m) => m.blockDevicesCollector),
  },
  {
    name: 'network',
    summary: 'interfaces: addresses, MAC, MTU, link state, speed, default route',
    load: () => import('./network.ts').then((m) => m.networkCollector),
  },
  {
    name: 'uptime',
    summary: 'seconds since boot, boot time, clock, time zone',
    load: () => import('./uptime.ts').then((m) => m.uptimeCollector),
  },
  {
    name: 'processes',
    summary: 'running processes: pid, ppid, uid, name, state, rss, command line',
    load: () => import('./processes.ts').then((m) => m.processesCollector),
  },
  {
    name: 'ports',
    summary: 'listening TCP/UDP sockets with owning process',
    load: () => import('./ports.ts').then((m) => m.portsCollector),
  },
  {
    name: 'packages',
    summary: 'installed packages (dpkg-query or rpm -qa)',
    load: () => import('./packages.ts').then((m) => m.packagesCollector),
  },
];

export const COLLECTORS: ReadonlyMap<string, CollectorEntry> = new Map(ENTRIES.map((c) => [c.name, c]));

export type CollectResult = { ok: true; data: unknown } | { ok: false; code: number; message: string };

/**
 * Run `getinfo.NAME` with its args string. The channel and the Ctl both call this, so they
 * answer the same JSON.
 */
export async function collect(method: string, args: string | undefined): Promise<CollectResult> {
  const name = method.startsWith('getinfo.') ? method.slice('getinfo.'.length) : method;
  const entry = COLLECTORS.get(name);
  if (!entry) {
    return {
      ok: false,
      code: ErrorCode.COLLECTOR_UNKNOWN,
      message: `Unknown collector: getinfo.${name} (known: ${[...COLLECTORS.keys()].map((k) => `getinfo.${k}`).join(', ')})`,
    };
  }
  try {
    const c = await entry.load();
    return { ok: true, data: await c.run(splitArgs(args)) };
  } catch (err) {
    if (err instanceof CollectorError) return { ok: false, code: err.code, message: err.message };
    return { ok: false, code: ErrorCode.COLLECTOR_FAILED, message: `Collector failed: ${(err as Error).message}` };
  }
}
