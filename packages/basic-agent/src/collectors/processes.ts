import { readdirSync, readFileSync } from 'node:fs';
import { noArgs, type Collector } from './collector.ts';

const PAGE = 4096;

export interface ProcessInfo {
  pid: number;
  ppid: number;
  uid: number | null;
  name: string;
  state: string;
  rss: number;
  cmdline: string;
}

export function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
    } catch {
      /* kernel thread or gone */
    }
    return {
      pid,
      ppid: Number(rest[1]),
      uid: uid === undefined ? null : Number(uid),
      name,
      state: rest[0] ?? '?',
      rss: Number(rest[21]) * PAGE,
      cmdline,
    };
  } catch {
    return undefined;
  }
}

export function listPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** Every process from /proc. */
export const processesCollector: Collector = {
  name: 'processes',
  async run(args) {
    noArgs('processes', args);
    return listPids()
      .map(readProcess)
      .filter((p): p is ProcessInfo => p !== undefined);
  },
};
