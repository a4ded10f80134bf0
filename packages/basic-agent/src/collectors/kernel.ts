import { readFileSync } from 'node:fs';
import os from 'node:os';
import { noArgs, type Collector } from './collector.ts';

/** uname -r / -v / -m / -n and the boot command line. */
export const kernelCollector: Collector = {
  name: 'kernel',
  async run(args) {
    noArgs('kernel', args);
    let cmdline = '';
    try {
      cmdline = readFileSync('/proc/cmdline', 'utf8').trim();
    } catch {
      /* not Linux /proc: left empty */
    }
    return { release: os.release(), version: os.version(), arch: os.machine(), hostname: os.hostname(), cmdline };
  },
};
