import { readFileSync } from 'node:fs';

/**
 * Process identity from /proc. A pid alone is not an identity: pids are reused. The start
 * time (field 22 of /proc/PID/stat, clock ticks since boot) together with the pid is.
 */
export function processStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); field 22 is rest[19].
    return rest[19];
  } catch {
    return undefined;
  }
}

/** Process state letter (R S D Z T ...), undefined when the pid does not exist. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** True when the pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const state = processState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** True when pid is alive and is the very process that had startTicks. */
export function isSameProcess(pid: number, startTicks: string | undefined): boolean {
  if (!startTicks || !isAlive(pid)) return false;
  return processStartTicks(pid) === startTicks;
}

/** Seconds since boot of a process's start, from its start ticks (CLK_TCK is 100 on Linux). */
export function bootTimeSeconds(): number {
  const stat = readFileSync('/proc/stat', 'utf8');
  const m = /^btime (\d+)$/m.exec(stat);
  return m ? Number(m[1]) : 0;
}

export const CLOCK_TICKS_PER_SECOND = 100;

/** Wall-clock unix seconds when the process started, or undefined. */
export function processStartUnix(pid: number): number | undefined {
  const ticks = processStartTicks(pid);
  if (ticks === undefined) return undefined;
  return bootTimeSeconds() + Number(ticks) / CLOCK_TICKS_PER_SECOND;
}
