import { ErrorCode, type ReplyFrame } from '@aspire/protocol';
import { CollectorError, splitArgs, type Collector } from './collector.ts';
import { blockDevicesCollector } from './block-devices.ts';
import { cpuCollector } from './cpu.ts';
import { disksCollector } from './disks.ts';
import { kernelCollector } from './kernel.ts';
import { memoryCollector } from './memory.ts';
import { networkCollector } from './network.ts';
import { osCollector } from './os-release.ts';
import { packagesCollector } from './packages.ts';
import { portsCollector } from './ports.ts';
import { processesCollector } from './processes.ts';
import { uptimeCollector } from './uptime.ts';
import { usersCollector } from './users.ts';

export const COLLECTORS: ReadonlyMap<string, Collector> = new Map(
  [
    usersCollector,
    kernelCollector,
    osCollector,
    cpuCollector,
    memoryCollector,
    disksCollector,
    blockDevicesCollector,
    networkCollector,
    uptimeCollector,
    processesCollector,
    portsCollector,
    packagesCollector,
  ].map((c) => [c.name, c]),
);

export type CollectResult = { ok: true; data: unknown } | { ok: false; code: number; message: string };

/**
 * Run `getinfo.NAME` with its args string. The channel and the Ctl both call this, so they
 * answer the same JSON.
 */
export async function collect(method: string, args: string | undefined): Promise<CollectResult> {
  const name = method.startsWith('getinfo.') ? method.slice('getinfo.'.length) : method;
  const c = COLLECTORS.get(name);
  if (!c) {
    return {
      ok: false,
      code: ErrorCode.COLLECTOR_UNKNOWN,
      message: `Unknown collector: getinfo.${name} (known: ${[...COLLECTORS.keys()].map((k) => `getinfo.${k}`).join(', ')})`,
    };
  }
  try {
    return { ok: true, data: await c.run(splitArgs(args)) };
  } catch (err) {
    if (err instanceof CollectorError) return { ok: false, code: err.code, message: err.message };
    return { ok: false, code: ErrorCode.COLLECTOR_FAILED, message: `Collector failed: ${(err as Error).message}` };
  }
}

export function collectReply(id: string, r: CollectResult): ReplyFrame {
  return r.ok
    ? { id, resp: 'success', retcode: 0, message: 'Normal termination', data: r.data }
    : { id, resp: 'failed', retcode: r.code, message: r.message };
}
