/**
 * cgroup v1: ROOT/cpu/PARENT/AGENT (cpu.cfs_period_us, cpu.cfs_quota_us) and
 * ROOT/memory/PARENT/AGENT (memory.limit_in_bytes, memory.memsw.limit_in_bytes when swap
 * accounting is on). The pid goes into each hierarchy's cgroup.procs (whole thread group).
 * An OOM kill is read from memory.oom_control `oom_kill` (kernel >= 4.13); on older kernels a
 * SIGKILL after memory.failcnt moved counts as one.
 *
 * v1 does not move memory already charged when a task changes group
 * (memory.move_charge_at_immigrate is 0), and children forked before the move stay behind:
 * that is why a new sub-agent joins both groups before its program runs (`prepare`).
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

export function createCgroupV1(root: string, parent: string): Limiter {
  function prepare(agent: string, limits: ParsedLimits): Placement {
    if (!hasLimits(limits)) return placeAfterStart(() => noLimits);
    const dirs: string[] = [];
    let memDir: string | undefined;
    try {
      if (limits.cpuPercent !== undefined) {
        const dir = join(root, 'cpu', parent, agent);
        ensureDir(dir);
        dirs.push(dir);
        writeControl(join(dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
        writeControl(join(dir, 'cpu.cfs_quota_us'), String(cpuQuotaUs(limits.cpuPercent)));
      }
      if (limits.memoryBytes !== undefined) {
        const dir = join(root, 'memory', parent, agent);
        ensureDir(dir);
        dirs.push(dir);
        // memsw must stay >= limit_in_bytes: lift it first, then set both.
        const memsw = join(dir, 'memory.memsw.limit_in_bytes');
        if (existsSync(memsw)) writeControl(memsw, '-1');
        writeControl(join(dir, 'memory.limit_in_bytes'), String(limits.memoryBytes));
        if (existsSync(memsw)) writeControl(memsw, String(limits.memoryBytes));
        memDir = dir;
      }
    } catch (err) {
      dirs.forEach(removeGroup);
      throw err;
    }
    const oomBefore = memDir ? (readKeyed(join(memDir, 'memory.oom_control')).oom_kill ?? 0) : 0;
    const failBefore = memDir ? Number(readControl(join(memDir, 'memory.failcnt')) ?? 0) : 0;
    const handle: LimitHandle = {
      killedForLimit: (exit) => {
        if (!memDir) return false;
        const oc = readKeyed(join(memDir, 'memory.oom_control'));
        if (oc.oom_kill !== undefined) return oc.oom_kill > oomBefore;
        return exit.signal === 'SIGKILL' && Number(readControl(join(memDir, 'memory.failcnt')) ?? 0) > failBefore;
      },
      release: () => dirs.forEach(removeGroup),
    };
    return { procsFiles: dirs.map((d) => join(d, 'cgroup.procs')), bind: () => handle, cancel: handle.release };
  }

  return {
    kind: 'cgroup-v1',
    prepare,
    forget(agent) {
      const dirs = ['cpu', 'memory'].map((h) => join(root, h, parent, agent));
      dirs.forEach(removeGroup);
      return dirs.every((d) => !existsSync(d));
    },
    attach(agent, pid, limits) {
      return attachPlaced(prepare(agent, limits), pid);
    },
  };
}
