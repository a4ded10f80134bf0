/**
 * Saving sub-agents' state.json from the supervisor's writer without ever throwing: the state
 * in memory is the truth; a save that fails (full disk) marks the agent unsaved and the next
 * tick saves it again. The pid and start ticks of a process we started are never lost this
 * way, so the agent is still supervised, reported, and re-adopted (not started twice) once
 * written. A full disk is logged and sent as an event once when it begins and once when
 * space returns.
 */
import { DiskFullWatch, isDiskFull } from '@aspire/agent-core';
import type { AgentState } from './agent-state.ts';
import type { SupervisorDeps } from './loop-context.ts';

export class StatePersister {
  /** Agents whose state in memory is newer than their state.json (a save failed): saved again every tick. */
  readonly unsaved = new Set<string>();
  private readonly disk = new DiskFullWatch();

  constructor(
    private readonly deps: SupervisorDeps,
    private readonly save: (s: AgentState) => void,
  ) {}

  /** Save (inside serial), never throwing. */
  persist(s: AgentState): void {
    try {
      this.save(s);
    } catch (err) {
      this.failed(s, err);
      return;
    }
    this.unsaved.delete(s.name);
    const since = this.disk.since;
    if (this.unsaved.size === 0 && this.disk.succeeded()) {
      const fullForSec = Math.max(0, Math.round((this.deps.clock.now() - (since ?? 0)) / 1000));
      this.deps.logger.info({ fullForSec }, 'state disk writable again: sub-agent state saved');
      this.deps.events.emit(
        'disk_recovered',
        `state disk writable again after ${fullForSec} s: sub-agent state saved`,
        { data: { what: 'sub-agent state', fullForSec } },
      );
    }
  }

  private failed(s: AgentState, err: unknown): void {
    const first = !this.unsaved.has(s.name);
    this.unsaved.add(s.name);
    if (this.disk.failed(err, this.deps.clock.now())) {
      this.deps.logger.error(
        { agent: s.name, err: (err as Error).message, stateDir: this.deps.stateDir },
        'state disk full: sub-agent state kept in memory and saved again on every supervision tick',
      );
      this.deps.events.emit(
        'disk_full',
        `sub-agent state cannot be saved: ${(err as Error).message}; kept in memory, retried`,
        { data: { what: 'sub-agent state', agent: s.name, error: (err as Error).message } },
      );
    } else if (first && !isDiskFull(err)) {
      this.deps.logger.error(
        { agent: s.name, err: (err as Error).message },
        'cannot save sub-agent state: kept in memory and saved again on every supervision tick',
      );
    }
  }
}
