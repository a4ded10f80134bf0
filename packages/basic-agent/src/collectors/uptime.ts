import { readFileSync } from 'node:fs';
import { ErrorCode } from '@aspire/protocol';
import { CollectorError, noArgs, type Collector } from './collector.ts';

export const uptimeCollector: Collector = {
  name: 'uptime',
  summary: 'seconds since boot, boot time',
  async run(args) {
    noArgs('uptime', args);
    try {
      const [up, idle] = readFileSync('/proc/uptime', 'utf8').trim().split(/\s+/).map(Number);
      const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
      return {
        uptime_seconds: up ?? null,
        idle_seconds: idle ?? null,
        boot_time: btime ? new Date(Number(btime) * 1000).toISOString() : null,
      };
    } catch (err) {
      throw new CollectorError(ErrorCode.COLLECTOR_FAILED, (err as Error).message);
    }
  },
};
