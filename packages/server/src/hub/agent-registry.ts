/**
 * Connected agents. A host's identity is its AgentSN when it sent one, else its hostname: a
 * host that connects again under the same identity replaces its previous connection (the old
 * one is closed), so there is one live channel per host. Two hosts with the same hostname
 * but different AgentSNs (cloned VMs named localhost.localdomain) both stay connected; looking
 * them up by AgentSN finds each, by that hostname finds none: the name is ambiguous (a host must
 * not receive another's command because it carries the same name; docs/security.md).
 */
import type { AgentConnection } from './agent-connection.ts';

/** What a `hosts[]` entry names: one connection, several (a hostname shared: refused), or none here. */
export type HostLookup =
  | { kind: 'found'; conn: AgentConnection }
  | { kind: 'ambiguous'; count: number }
  | { kind: 'none' };

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

  /**
   * A host named by AgentSN or hostname (design.md §5 hosts[] entries may be either). An AgentSN
   * wins; a hostname is answered only when exactly one connected host carries it.
   */
  lookup(host: string): HostLookup {
    const bySn = this.byIdentity.get(`sn:${host}`);
    if (bySn) return { kind: 'found', conn: bySn };
    const named = this.byHostname.get(host) ?? [];
    if (named.length > 1) return { kind: 'ambiguous', count: named.length };
    return named[0] ? { kind: 'found', conn: named[0] } : { kind: 'none' };
  }

  /** The one connection a name stands for; undefined when none here or the hostname is ambiguous. */
  find(host: string): AgentConnection | undefined {
    const r = this.lookup(host);
    return r.kind === 'found' ? r.conn : undefined;
  }

  /** The live connection of a host by AgentSN only. */
  byAgentsn(agentsn: string): AgentConnection | undefined {
    return this.byIdentity.get(`sn:${agentsn}`);
  }

  list(): AgentConnection[] {
    return [...this.byIdentity.values()];
  }
}
