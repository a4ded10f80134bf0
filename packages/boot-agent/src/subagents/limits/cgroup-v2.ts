/**
 * cgroup v2: ROOT/PARENT/AGENT with cpu.max ("quota period") and memory.max (bytes), the pid
 * written to cgroup.procs, and memory.events `oom_kill` read after an exit. The controllers
 * must be enabled in the parents' cgroup.subtree_control, which we do on the way down.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ParsedLimits } from '../run-spec.ts';
import { attachPlaced, ensureDir, readControl, readKeyed, removeGroup, writeControl } from './cgroup-fs.ts';
import {
  CPU_PERIOD_US,
  cpuQuotaUs,
  hasLimits,
  noLimits,
  placeAfterStart,
  type LimitHandle,
  type Limiter,
  type Placement,
} from './limiter.ts';

export function createCgroupV2(root: string, parent: string): Limiter {
  const parentDir = join(root, parent);

  function enableControllers(dir: string, wanted: string[]): void {
    const available = (readControl(join(dir, 'cgroup.controllers')) ?? '').split(/\s+/);
    const enable = wanted.filter((c) => available.includes(c)).map((c) => `+${c}`);
    if (enable.length > 0) writeControl(join(dir, 'cgroup.subtree_control'), enable.join(' '));
  }

  function prepare(agent: string, limits: ParsedLimits): Placement {
    if (!hasLimits(limits)) return placeAfterStart(() => noLimits);
    const wanted = [
      limits.cpuPercent !== undefined ? 'cpu' : '',
      limits.memoryBytes !== undefined ? 'memory' : '',
    ].filter(Boolean);
    enableControllers(root, wanted);
    ensureDir(parentDir);
    enableControllers(parentDir, wanted);
    const dir = join(parentDir, agent);
    ensureDir(dir);
    try {
      writeControl(
        join(dir, 'cpu.max'),
        limits.cpuPercent !== undefined ? `${cpuQuotaUs(limits.cpuPercent)} ${CPU_PERIOD_US}` : `max ${CPU_PERIOD_US}`,
      );
      if (limits.memoryBytes !== undefined) {
        writeControl(join(dir, 'memory.max'), String(limits.memoryBytes));
        // Without this the kernel swaps the agent out instead of enforcing the limit.
        if (existsSync(join(dir, 'memory.swap.max'))) writeControl(join(dir, 'memory.swap.max'), '0');
      } else {
        writeControl(join(dir, 'memory.max'), 'max');
      }
    } catch (err) {
      removeGroup(dir);
      throw err;
    }
    const oomBefore = readKeyed(join(dir, 'memory.events')).oom_kill ?? 0;
    const handle: LimitHandle = {
      killedForLimit: (exit) => {
        const oom = readKeyed(join(dir, 'memory.events')).oom_kill ?? 0;
        return (
          oom > oomBefore ||
          (exit.signal === 'SIGKILL' &&
            limits.memoryBytes !== undefined &&
            (readKeyed(join(dir, 'memory.events')).max ?? 0) > 0)
        );
      },
      release: () => removeGroup(dir),
    };
    return { procsFiles: [join(dir, 'cgroup.procs')], bind: () => handle, cancel: handle.release };
  }

  return {
    kind: 'cgroup-v2',
    prepare,
    forget(agent) {
      const dir = join(parentDir, agent);
      removeGroup(dir);
      return !existsSync(dir);
    },
    attach(agent, pid, limits) {
      return attachPlaced(prepare(agent, limits), pid);
    },
  };
}
