/** The agents' part of a status push (`AgentReport`), read from the supervisor's entries. */
import { AgentStatus, type AgentReport, type AgentStatusWord } from '@aspire/protocol';
import type { Entry } from './loop-context.ts';
import type { ProcessRunner } from './process-runner.ts';
import { isRunning } from './process-probes.ts';

export function agentReports(entries: Iterable<Entry>, runner: ProcessRunner, now: number): AgentReport[] {
  const out: AgentReport[] = [];
  for (const e of entries) {
    const s = e.state;
    const alive = isRunning(runner, s);
    const status: AgentStatusWord = s.fatal
      ? AgentStatus.FATAL
      : alive
        ? AgentStatus.RUNNING
        : s.killed
          ? AgentStatus.KILLED
          : AgentStatus.STOPPED;
    const r: AgentReport = {
      name: s.name,
      version: s.current,
      status,
      uptime: alive ? Math.max(0, Math.floor((now - s.lastStartAt) / 1000)) : 0,
      strikes: s.strikes,
    };
    if (s.previous) r.prevers = s.previous;
    if (alive && s.pid) r.pid = s.pid;
    if (s.limits) r.limits = { ...s.limits };
    out.push(r);
  }
  return out;
}
