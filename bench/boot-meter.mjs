// Per-process RSS and CPU from /proc, sampled by the benchmarks (bench/boot-idle.mjs; free for
// any other bench to import instead of writing its own).
import { readFileSync } from 'node:fs';

const CLK_TCK = 100;
const PAGE_KB = 4;

/** utime+stime ticks and resident set (KiB) of a pid, or undefined when it is gone. */
export function sampleProc(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuTicks = Number(f[11]) + Number(f[12]); // fields 14 and 15
    const rssKb = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE_KB;
    return { cpuTicks, rssKb };
  } catch {
    return undefined;
  }
}

/** Samples one process on tick(); summary() gives RSS avg/max (MB), CPU s and % over the window, and CPU s since process start. */
export class ProcMeter {
  constructor(name, pid) {
    this.name = name;
    this.pid = pid;
    this.rss = [];
    this.first = undefined;
    this.last = undefined;
  }

  tick() {
    const s = sampleProc(this.pid);
    if (!s) return;
    this.first ??= { ...s, at: performance.now() };
    this.last = { ...s, at: performance.now() };
    this.rss.push(s.rssKb);
  }

  summary() {
    if (!this.first || !this.last)
      return { name: this.name, rssAvgMb: 0, rssMaxMb: 0, cpuSec: 0, cpuPct: 0, cpuTotalSec: 0 };
    const cpuSec = (this.last.cpuTicks - this.first.cpuTicks) / CLK_TCK;
    const wallSec = (this.last.at - this.first.at) / 1000;
    return {
      name: this.name,
      rssAvgMb: this.rss.reduce((a, b) => a + b, 0) / this.rss.length / 1024,
      rssMaxMb: Math.max(...this.rss) / 1024,
      cpuSec,
      cpuPct: wallSec > 0 ? (100 * cpuSec) / wallSec : 0,
      /** CPU since the process started, start-up included. */
      cpuTotalSec: this.last.cpuTicks / CLK_TCK,
    };
  }
}
