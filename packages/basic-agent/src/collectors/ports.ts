import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { noArgs, type Collector } from './collector.ts';
import { listPids, readProcess } from './processes.ts';

function hexAddress(hex: string, v6: boolean): string {
  if (!v6) {
    const n = Number.parseInt(hex, 16);
    return [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff].join('.');
  }
  // Four little-endian 32-bit words.
  const groups: string[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    const bytes = word.match(/../g)!.reverse().join('');
    groups.push(bytes.slice(0, 4), bytes.slice(4, 8));
  }
  return groups
    .map((g) => g.replace(/^0+(?=.)/, '').toLowerCase())
    .join(':')
    .replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Listening sockets of one /proc/net table: TCP in state 0A (LISTEN), UDP unconnected (07). */
export function parseNetTable(
  text: string,
  proto: string,
  v6: boolean,
): { proto: string; address: string; port: number; inode: string }[] {
  const out = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const state = f[3];
    if ((proto.startsWith('tcp') && state !== '0A') || (proto.startsWith('udp') && state !== '07')) continue;
    const [addr, port] = f[1]!.split(':');
    out.push({ proto, address: hexAddress(addr!, v6), port: Number.parseInt(port!, 16), inode: f[9]! });
  }
  return out;
}

function socketOwners(): Map<string, number> {
  const owners = new Map<string, number>();
  for (const pid of listPids()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && !owners.has(m[1]!)) owners.set(m[1]!, pid);
      } catch {
        /* fd closed meanwhile */
      }
    }
  }
  return owners;
}

/** Listening TCP and bound UDP sockets with the owning process when visible. */
export const portsCollector: Collector = {
  name: 'ports',
  async run(args) {
    noArgs('ports', args);
    const rows = [];
    for (const [proto, v6] of [
      ['tcp', false],
      ['tcp6', true],
      ['udp', false],
      ['udp6', true],
    ] as const) {
      try {
        rows.push(...parseNetTable(readFileSync(`/proc/net/${proto}`, 'utf8'), proto, v6));
      } catch {
        /* protocol not available (no IPv6) */
      }
    }
    const owners = socketOwners();
    return rows.map(({ inode, ...r }) => {
      const pid = owners.get(inode);
      const p = pid === undefined ? undefined : readProcess(pid);
      return { ...r, pid: pid ?? null, process: p?.name ?? null };
    });
  },
};
