import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export interface Endpoint {
  address: string;
  port: number;
}

/**
 * Every address of the configured host (design.md §4 step 1: several /etc/hosts lines for one
 * name), in resolver order, tried one after the other.
 */
export async function resolveAll(host: string, port: number): Promise<Endpoint[]> {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare)) return [{ address: bare, port }];
  const addrs = await lookup(bare, { all: true, order: 'verbatim' });
  const seen = new Set<string>();
  return addrs.filter((a) => !seen.has(a.address) && seen.add(a.address)).map((a) => ({ address: a.address, port }));
}

/** The redirect frame's `server: "ip1,ip2:port"`; entries without a port keep the current one. */
export function parseRedirect(server: string, defaultPort: number): Endpoint[] {
  const out: Endpoint[] = [];
  for (const raw of server.split(',')) {
    const s = raw.trim();
    if (!s) continue;
    const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(s);
    if (v6) {
      out.push({ address: v6[1]!, port: v6[2] ? Number(v6[2]) : defaultPort });
      continue;
    }
    if (isIP(s) === 6) {
      out.push({ address: s, port: defaultPort });
      continue;
    }
    const m = /^([^:]+)(?::(\d+))?$/.exec(s);
    if (!m) continue;
    const port = m[2] ? Number(m[2]) : defaultPort;
    if (port < 1 || port > 65535) continue;
    out.push({ address: m[1]!, port });
  }
  return out;
}
