/**
 * Where no cgroup can be written: sample the agent's CPU and RSS with pidusage every
 * watchdogIntervalSec and SIGKILL its process group after `hits` consecutive samples over a
 * limit. The kill is recorded so the exit is reported as `killed`.
 */
import type { Clock, TimerHandle } from '@aspire/agent-core';
import type { Logger } from 'pino';
import type { ParsedLimits } from '../run-spec.ts';
import { hasLimits, noLimits, placeAfterStart, type LimitHandle, type Limiter } from './limiter.ts';

export type Sampler = (pid: number) => Promise<{ cpu: number; memory: number }>;

// pidusage (and node:child_process, which it loads at once) only when a watchdog first samples:
// an idle boot holds neither (docs/boot-agent.md "Idle memory").
let pidusageLib: Promise<typeof import('pidusage')> | undefined;
const loadPidusage = () => (pidusageLib ??= import('pidusage').then((m) => m.default));

export function createWatchdog(opts: {
  clock: Clock;
  intervalMs: number;
  logger: Logger;
  sample?: Sampler;
  kill?: (pid: number) => void;
}): Limiter {
  const sample: Sampler = opts.sample ?? (async (pid) => (await loadPidusage())(pid));
  const kill =
    opts.kill ??
    ((pid: number) => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    });
  const limiter: Limiter = {
    kind: 'watchdog',
    // Nothing to join: sampling starts once the process exists.
    prepare: (agent, limits) => placeAfterStart((pid) => limiter.attach(agent, pid, limits)),
    forget: () => true,
    attach(agent: string, pid: number, limits: ParsedLimits): LimitHandle {
      if (!hasLimits(limits)) return noLimits;
      let hits = 0;
      let killed = false;
      let timer: TimerHandle | undefined;
      let released = false;
      const tick = async () => {
        if (released) return;
        try {
          const u = await sample(pid);
          const over =
            (limits.cpuPercent !== undefined && u.cpu > limits.cpuPercent) ||
            (limits.memoryBytes !== undefined && u.memory > limits.memoryBytes);
          hits = over ? hits + 1 : 0;
          if (hits >= limits.hits && !released) {
            opts.logger.warn(
              { agent, agentPid: pid, cpu: u.cpu, memory: u.memory, hits },
              'limits exceeded, killing sub-agent',
            );
            killed = true;
            kill(pid);
            return;
          }
        } catch {
          return; // process gone: the supervisor sees the exit
        }
        if (!released) timer = opts.clock.setTimeout(() => void tick(), opts.intervalMs);
      };
      timer = opts.clock.setTimeout(() => void tick(), opts.intervalMs);
      return {
        killedForLimit: () => killed,
        release: () => {
          released = true;
          timer?.cancel();
          void pidusageLib?.then((p) => p.clear?.());
        },
      };
    },
  };
  return limiter;
}
