import { readFileSync } from 'node:fs';
import { CollectorError, noArgs, type Collector } from './collector.ts';
import { ErrorCode } from '@aspire/protocol';

export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (m) out[m[1]!] = Number(m[2]) * (line.includes('kB') ? 1024 : 1);
  }
  return out;
}

/** /proc/meminfo, in bytes. */
export const memoryCollector: Collector = {
  name: 'memory',
  summary: 'RAM and swap in bytes (/proc/meminfo)',
  async run(args) {
    noArgs('memory', args);
    let m: Record<string, number>;
    try {
      m = parseMeminfo(readFileSync('/proc/meminfo', 'utf8'));
    } catch (err) {
      throw new CollectorError(ErrorCode.COLLECTOR_FAILED, (err as Error).message);
    }
    return {
      total: m.MemTotal ?? null,
      free: m.MemFree ?? null,
      available: m.MemAvailable ?? null,
      buffers: m.Buffers ?? null,
      cached: m.Cached ?? null,
      swap_total: m.SwapTotal ?? null,
      swap_free: m.SwapFree ?? null,
    };
  },
};
