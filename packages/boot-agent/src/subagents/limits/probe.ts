import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '@aspire/agent-core';
import type { Logger } from 'pino';
import { canCreateUnder, ensureDir, removeGroup } from './cgroup-fs.ts';
import { createCgroupV1 } from './cgroup-v1.ts';
import { createCgroupV2 } from './cgroup-v2.ts';
import type { Limiter } from './limiter.ts';
import { createWatchdog } from './watchdog.ts';

/**
 * Pick the limiter this host supports: v2 when cgroupRoot is a unified mount we can create
 * groups in, v1 when ROOT/cpu and ROOT/memory both are, else the watchdog. A parent group the
 * probe had to create is removed again (the limiters create it when an agent needs it), so a
 * BootAgent without limited agents leaves no empty `aspire` groups behind.
 */
export function probeLimiter(opts: {
  cgroupRoot: string;
  parent: string;
  clock: Clock;
  watchdogIntervalMs: number;
  logger: Logger;
}): Limiter {
  const { cgroupRoot: root, parent } = opts;
  const tryParent = (dir: string) => {
    const p = join(dir, parent);
    const existed = existsSync(p);
    try {
      ensureDir(p);
      return canCreateUnder(p);
    } catch {
      return false;
    } finally {
      if (!existed) removeGroup(p);
    }
  };
  if (existsSync(join(root, 'cgroup.controllers')) && tryParent(root)) {
    return createCgroupV2(root, parent);
  }
  if (
    existsSync(join(root, 'cpu')) &&
    existsSync(join(root, 'memory')) &&
    tryParent(join(root, 'cpu')) &&
    tryParent(join(root, 'memory'))
  ) {
    return createCgroupV1(root, parent);
  }
  opts.logger.warn({ cgroupRoot: root }, 'no writable cgroup hierarchy: limits enforced by the sampling watchdog');
  return createWatchdog({ clock: opts.clock, intervalMs: opts.watchdogIntervalMs, logger: opts.logger });
}
