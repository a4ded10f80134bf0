/**
 * An `rpm -U` that outlived the boot that started it. A kill -9 of boot leaves its rpm child
 * running (same process group, but only boot was killed) while systemd starts boot again: a
 * second rpm on the same database then fails on the lock, and the first one goes on replacing
 * the executable under the new boot. So the boot that resumes a commit first waits for any
 * process still running with the staged package on its command line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Clock } from '@aspire/agent-core';

/** Pids (not ours) whose argv holds `arg` exactly; /proc entries that vanish are skipped. */
export function pidsWithArg(arg: string, procDir = '/proc'): number[] {
  const out: number[] = [];
  for (const name of readdirSync(procDir)) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const argv = readFileSync(`${procDir}/${name}/cmdline`, 'latin1').split('\0');
      if (argv.includes(arg)) out.push(pid);
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return out;
}

/** Resolves once no process has `pkg` in its argv, or after `timeoutMs` (then the caller goes on). */
export async function waitForOrphanRpm(pkg: string, clock: Clock, timeoutMs: number): Promise<number[]> {
  const until = clock.monotonic() + timeoutMs;
  let pids = pidsWithArg(pkg);
  while (pids.length > 0 && clock.monotonic() < until) {
    await clock.sleep(200);
    pids = pidsWithArg(pkg);
  }
  return pids;
}
