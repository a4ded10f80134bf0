import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import type { LimitHandle, Placement } from './limiter.ts';

/** Small helpers over cgroupfs files: every write is one write(2) of the whole value. */
export function writeControl(path: string, value: string): void {
  writeFileSync(path, value);
}

export function readControl(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** `key value` lines (memory.events, memory.oom_control, cpu.stat) -> numbers. */
export function readKeyed(path: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (readControl(path) ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true });
}

/** rmdir a cgroup (cgroupfs allows it once the group has no tasks). Best effort. */
export function removeGroup(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    /* tasks left, or already gone */
  }
}

/** Can we create (and remove) a directory here? The probe for a writable hierarchy. */
export function canCreateUnder(dir: string): boolean {
  const probe = `${dir}/aspire-probe-${process.pid}`;
  try {
    mkdirSync(probe);
    rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}

/**
 * Move an already running process into the groups a placement prepared (adoption after a
 * BootAgent restart): the same for v1 and v2, only the procs files differ. A failed write
 * undoes the placement.
 */
export function attachPlaced(p: Placement, pid: number): LimitHandle {
  try {
    for (const f of p.procsFiles) writeControl(f, String(pid));
  } catch (err) {
    p.cancel();
    throw err;
  }
  return p.bind(pid);
}
