/**
 * Connected agents. A host's identity is its AgentSN when it sent one, else its hostname: a
 * host that connects again under the same identity replaces its previous connection (the old
 * one is closed), so there is one live channel per host. Two hosts with the same hostname
 * but different AgentSNs (cloned VMs named localhost.localdomain) both stay connected; looking
 * them up by that hostname finds the one that connected last, by AgentSN finds each.
 */
import type { AgentConnection } from './agent-connection.ts';

function identity(c: AgentConnection): string {
  return c.agentsn ? `sn:${c.agentsn}` : `host:${c.hostname}`;
}

export class AgentRegistry {
  private readonly byIdentity = new Map<string, AgentConnection>();
  /** Connections per hostname, oldest first. */
  private readonly byHostname = new Map<string, AgentConnection[]>();

  get size(): number {
    return this.byIdentity.size;
  }

  /** Add a connection; returns the one it replaces, if any. */
  add(c: AgentConnection): AgentConnection | undefined {
    const old = this.byIdentity.get(identity(c));
    if (old) this.remove(old);
    this.byIdentity.set(identity(c), c);
    this.byHostname.set(c.hostname, [...(this.byHostname.get(c.hostname) ?? []), c]);
    return old;
  }

  /** Remove a connection if it is still registered (a replaced one leaving changes nothing). */
  remove(c: AgentConnection): void {
    if (this.byIdentity.get(identity(c)) === c) this.byIdentity.delete(identity(c));
    const list = this.byHostname.get(c.hostname)?.filter((x) => x !== c) ?? [];
    if (list.length) this.byHostname.set(c.hostname, list);
    else this.byHostname.delete(c.hostname);
  }

  /** A host named by AgentSN or hostname (seed 001 hosts[] entries may be either). */
  find(host: string): AgentConnection | undefined {
    return this.byIdentity.get(`sn:${host}`) ?? this.byHostname.get(host)?.at(-1);
  }

  list(): AgentConnection[] {
    return [...this.byIdentity.values()];
  }
}
