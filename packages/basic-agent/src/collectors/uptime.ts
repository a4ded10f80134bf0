import { readFile } from 'node:fs/promises';
import { noArgs, type Collector } from './collector.ts';
import { siOsInfo } from './si.ts';

/**
 * systeminformation's time(): uptime, the clock, and the system time zone (`date`, the
 * /etc/localtime link). Idle seconds are not in it: they come from /proc/uptime.
 */
export const uptimeCollector: Collector = {
  name: 'uptime',
  summary: 'seconds since boot, boot time, clock, time zone',
  async run(args) {
    noArgs('uptime', args);
    const si = await siOsInfo();
    const t = si.time();
    let idle: number | null = null;
    try {
      idle = Number((await readFile('/proc/uptime', 'utf8')).trim().split(/\s+/)[1]) || null;
    } catch {
      /* not Linux /proc: left null */
    }
    return {
      uptime_seconds: t.uptime,
      idle_seconds: idle,
      // Whole seconds, as the kernel keeps it (/proc/stat btime).
      boot_time: new Date(Math.floor((t.current - t.uptime * 1000) / 1000) * 1000).toISOString(),
      now: new Date(t.current).toISOString(),
      timezone: t.timezone || null,
      timezone_name: t.timezoneName || null,
    };
  },
};
