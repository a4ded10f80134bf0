/**
 * Connected agents by hostname and by AgentSN. A host that connects again replaces its
 * previous connection (the old one is closed): there is one live channel per host.
 */
import type { AgentConnection } from './agent-connection.ts';

export class AgentRegistry {
  private readonly byHostname = new Map<string, AgentConnection>();
  private readonly byAgentsn = new Map<string, AgentConnection>();

  get size(): number {
    return this.byHostname.size;
  }

  /** Add a connection; returns the one it replaces, if any. */
  add(c: AgentConnection): AgentConnection | undefined {
    const old = this.byHostname.get(c.hostname) ?? (c.agentsn ? this.byAgentsn.get(c.agentsn) : undefined);
    if (old) this.remove(old);
    this.byHostname.set(c.hostname, c);
    if (c.agentsn) this.byAgentsn.set(c.agentsn, c);
    return old;
  }

  /** Remove a connection if it is still the registered one for its host. */
  remove(c: AgentConnection): void {
    if (this.byHostname.get(c.hostname) === c) this.byHostname.delete(c.hostname);
    if (c.agentsn && this.byAgentsn.get(c.agentsn) === c) this.byAgentsn.delete(c.agentsn);
  }

  /** A host named by AgentSN or hostname (seed 001 hosts[] entries may be either). */
  find(host: string): AgentConnection | undefined {
    return this.byAgentsn.get(host) ?? this.byHostname.get(host);
  }

  list(): AgentConnection[] {
    return [...this.byHostname.values()];
  }
}
