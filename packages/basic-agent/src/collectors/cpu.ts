import { readFileSync } from 'node:fs';
import os from 'node:os';
import { noArgs, type Collector } from './collector.ts';

export const cpuCollector: Collector = {
  name: 'cpu',
  summary: 'model, logical CPUs, load average',
  async run(args) {
    noArgs('cpu', args);
    const cpus = os.cpus();
    let physical: number | null = null;
    try {
      const ids = new Set(
        readFileSync('/proc/cpuinfo', 'utf8')
          .split('\n\n')
          .map((b) => `${/physical id\s*:\s*(\d+)/.exec(b)?.[1]}:${/core id\s*:\s*(\d+)/.exec(b)?.[1]}`)
          .filter((k) => !k.includes('undefined')),
      );
      physical = ids.size || null;
    } catch {
      /* left null */
    }
    const [l1, l5, l15] = os.loadavg();
    return {
      model: cpus[0]?.model ?? null,
      mhz: cpus[0]?.speed ?? null,
      logical: cpus.length,
      cores: physical,
      arch: os.machine(),
      loadavg: { '1m': l1, '5m': l5, '15m': l15 },
    };
  },
};
