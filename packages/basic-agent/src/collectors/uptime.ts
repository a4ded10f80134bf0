import { readFile } from 'node:fs/promises';
import { siCollector, siOsInfo } from './si.ts';

async function idleSeconds(): Promise<number | null> {
  try {
    return Number((await readFile('/proc/uptime', 'utf8')).trim().split(/\s+/)[1]) || null;
  } catch {
    return null; // not Linux /proc
  }
}

/**
 * systeminformation's time(): uptime, the clock, and the system time zone (`date`, the
 * /etc/localtime link). Idle seconds are not in it: they come from /proc/uptime.
 */
export const uptimeCollector = siCollector({
  name: 'uptime',
  load: siOsInfo,
  what: 'systeminformation time()',
  call: async (si) => ({ t: si.time(), idle: await idleSeconds() }),
  shape: ({ t, idle }) => ({
    uptime_seconds: t.uptime,
    idle_seconds: idle,
    // Whole seconds, as the kernel keeps it (/proc/stat btime).
    boot_time: new Date(Math.floor((t.current - t.uptime * 1000) / 1000) * 1000).toISOString(),
    now: new Date(t.current).toISOString(),
    timezone: t.timezone || null,
    timezone_name: t.timezoneName || null,
  }),
});
