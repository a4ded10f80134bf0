/**
 * Process probes: is an agent's process alive, which live process is it after a BootAgent
 * restart (pidfile or environment: adoption), and waiting for it to be gone. They read
 * /proc and the pidfile and never change an Entry (the supervisor's writer does that).
 */
import { readFileSync } from 'node:fs';
import type { Clock } from '@aspire/agent-core';
import type { Logger } from 'pino';
import { layout, type AgentState } from './agent-state.ts';
import type { Entry } from './loop-context.ts';
import type { ProcessRunner } from './process-runner.ts';
import { AGENT_HOME_ENV } from './process-scan.ts';

export interface ProbedProcess {
  pid: number;
  ticks: string;
}

/** The process recorded in state still is the very one we started or adopted (pid + start ticks). */
export function isRunning(runner: ProcessRunner, s: Pick<AgentState, 'pid' | 'startTicks'>): boolean {
  return !!(s.pid && s.startTicks && runner.alive(s.pid, s.startTicks));
}

/**
 * The process named by the spec's pidfile, when it is alive and started no earlier than
 * `since` (wall ms): an older process holding that pid is someone else (pid reuse).
 */
export function pidfileProcess(
  runner: ProcessRunner,
  e: Entry,
  since: number,
  not?: number,
): ProbedProcess | undefined {
  if (!e.spec.pidfile) return undefined;
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(e.spec.pidfile, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1 || pid === not || pid === process.pid) return undefined;
  const ticks = runner.startTicks(pid);
  const at = runner.startedAtMs(pid);
  if (!ticks || at === undefined || at < since - 2000) return undefined;
  return { pid, ticks };
}

/** The environment entry every process of the agent carries (process-scan.ts finds it). */
export function homeEnvEntry(stateDir: string, name: string): string {
  return `${AGENT_HOME_ENV}=${layout(stateDir, name).root}`;
}

/**
 * The agent's live process found by the ASPIRE_AGENT_HOME entry its spawn carried
 * (process-scan.ts): a process we started whose pid never reached state.json (full disk, then
 * the BootAgent died). Adopting it, instead of starting a second copy, keeps one agent running.
 */
export function processByEnv(
  runner: ProcessRunner,
  logger: Logger,
  stateDir: string,
  e: Entry,
): ProbedProcess | undefined {
  const found = runner.findByEnv?.(homeEnvEntry(stateDir, e.state.name)) ?? [];
  const first = found[0];
  if (!first) return undefined;
  logger.warn(
    {
      agent: e.state.name,
      agentPid: first.pid,
      recordedPid: e.state.pid ?? null,
      others: found.slice(1).map((f) => f.pid),
    },
    'sub-agent process found by its environment (its pid was never saved): adopting it, not starting another',
  );
  return { pid: first.pid, ticks: first.startTicks };
}

/**
 * Wait for pid to be gone. For our own child, wait for its exit event to be processed (it
 * carries the real code/signal), but no longer than a second after the pid vanished.
 */
export async function waitGone(
  clock: Clock,
  runner: ProcessRunner,
  e: Entry,
  pid: number,
  startTicks: string,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = clock.monotonic() + Math.max(0, timeoutMs);
  let goneAt: number | undefined;
  for (;;) {
    if (e.state.pid !== pid) return true;
    if (!runner.alive(pid, startTicks)) {
      goneAt ??= clock.monotonic();
      if (!e.own || clock.monotonic() - goneAt >= 1000) return true;
    }
    if (goneAt === undefined && clock.monotonic() >= deadline) return false;
    await clock.sleep(goneAt === undefined ? Math.min(50, Math.max(1, deadline - clock.monotonic())) : 20);
  }
}
