/**
 * cgroup v1: ROOT/cpu/PARENT/AGENT (cpu.cfs_period_us, cpu.cfs_quota_us) and
 * ROOT/memory/PARENT/AGENT (memory.limit_in_bytes, memory.memsw.limit_in_bytes when swap
 * accounting is on). The pid goes into each hierarchy's cgroup.procs (whole thread group).
 * An OOM kill is read from memory.oom_control `oom_kill` (kernel >= 4.13); on older kernels a
 * SIGKILL after memory.failcnt moved counts as one.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ParsedLimits } from '../run-spec.ts';
import { ensureDir, readControl, readKeyed, removeGroup, writeControl } from './cgroup-fs.ts';
import { CPU_PERIOD_US, cpuQuotaUs, hasLimits, noLimits, type LimitHandle, type Limiter } from './limiter.ts';

export function createCgroupV1(root: string, parent: string): Limiter {
  return {
    kind: 'cgroup-v1',
    attach(agent: string, pid: number, limits: ParsedLimits): LimitHandle {
      if (!hasLimits(limits)) return noLimits;
      const dirs: string[] = [];
      let memDir: string | undefined;
      if (limits.cpuPercent !== undefined) {
        const dir = join(root, 'cpu', parent, agent);
        ensureDir(dir);
        writeControl(join(dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
        writeControl(join(dir, 'cpu.cfs_quota_us'), String(cpuQuotaUs(limits.cpuPercent)));
        writeControl(join(dir, 'cgroup.procs'), String(pid));
        dirs.push(dir);
      }
      if (limits.memoryBytes !== undefined) {
        const dir = join(root, 'memory', parent, agent);
        ensureDir(dir);
        // memsw must stay >= limit_in_bytes: lift it first, then set both.
        const memsw = join(dir, 'memory.memsw.limit_in_bytes');
        if (existsSync(memsw)) writeControl(memsw, '-1');
        writeControl(join(dir, 'memory.limit_in_bytes'), String(limits.memoryBytes));
        if (existsSync(memsw)) writeControl(memsw, String(limits.memoryBytes));
        writeControl(join(dir, 'cgroup.procs'), String(pid));
        memDir = dir;
        dirs.push(dir);
      }
      const oomBefore = memDir ? readKeyed(join(memDir, 'memory.oom_control')).oom_kill ?? 0 : 0;
      const failBefore = memDir ? Number(readControl(join(memDir, 'memory.failcnt')) ?? 0) : 0;
      return {
        killedForLimit: (exit) => {
          if (!memDir) return false;
          const oc = readKeyed(join(memDir, 'memory.oom_control'));
          if (oc.oom_kill !== undefined) return oc.oom_kill > oomBefore;
          return exit.signal === 'SIGKILL' && Number(readControl(join(memDir, 'memory.failcnt')) ?? 0) > failBefore;
        },
        release: () => dirs.forEach(removeGroup),
      };
    },
  };
}
