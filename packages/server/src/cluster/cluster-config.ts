/**
 * The `cluster` key of the server config (docs/scale.md): checked once here, frozen, passed down.
 *
 *   "cluster": { "nodeId": "aspire-1", "advertise": "10.0.0.5:7443", "heartbeatMs": 2000, "redirectMargin": 16 }
 *
 * The cluster layer runs only on PostgreSQL: its database is the store's (`store: {kind:
 * "postgres", url}`), or `url`/`urlFile` here. nodeId defaults to `<hostname>-<hub port>`,
 * advertise (what other nodes' redirect frames send agents to) to the hub's bound address.
 */
import { readFileSync } from 'node:fs';
import { ConfigChecker, type Bound } from '@aspire/agent-core';

export interface ClusterConfig {
  /** postgres:// URL (may carry a password: never logged). */
  url?: string;
  nodeId?: string;
  advertise?: string;
  /** How often a node renews its row and presence; a node is lost after 3 missed beats. */
  heartbeatMs: number;
  /** Agents a node may hold beyond a less loaded one before it redirects (or 10% of its own, if more). */
  redirectMargin: number;
}

export const CLUSTER_BOUNDS = {
  heartbeatMs: { min: 100, max: 60_000, default: 2000 },
  redirectMargin: { min: 0, max: 1_000_000, default: 16 },
} satisfies Record<string, Bound>;

const KEYS = ['url', 'urlFile', 'nodeId', 'advertise', 'heartbeatMs', 'redirectMargin'] as const;

/** Node ids name a LISTEN channel (hashed) and an application_name (63 bytes at most). */
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,39}$/;

export function checkClusterConfig(raw: unknown, problems: string[]): ClusterConfig | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push('cluster: must be an object');
    return undefined;
  }
  const c = new ConfigChecker(raw as Record<string, unknown>, KEYS);
  const url = c.optionalString('url');
  const urlFile = c.optionalString('urlFile');
  const nodeId = c.optionalString('nodeId');
  const advertise = c.optionalString('advertise');
  const out: ClusterConfig = {
    heartbeatMs: c.number('heartbeatMs', CLUSTER_BOUNDS.heartbeatMs),
    redirectMargin: c.number('redirectMargin', CLUSTER_BOUNDS.redirectMargin),
  };
  if (url !== undefined && urlFile !== undefined) c.problems.push('url, urlFile: give one');
  const fromFile = urlFile !== undefined ? readUrlFile(urlFile, c.problems) : undefined;
  const u = url ?? fromFile;
  if (u !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(u)) c.problems.push('url: must be a postgres:// URL');
    else out.url = u;
  }
  if (nodeId !== undefined) {
    if (!NODE_ID.test(nodeId)) c.problems.push('nodeId: 1-40 of A-Z a-z 0-9 . _ : -');
    else out.nodeId = nodeId;
  }
  if (advertise !== undefined) {
    if (!/^[\w.:[\]-]+:\d{1,5}$/.test(advertise)) c.problems.push('advertise: must be host:port');
    else out.advertise = advertise;
  }
  problems.push(...c.problems.map((p) => `cluster.${p}`));
  return out;
}

function readUrlFile(path: string, problems: string[]): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    problems.push(`urlFile: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    return undefined;
  }
}

/** `host-port` from the hub's bound address, cut to a valid node id. */
export function derivedNodeId(hostname: string, hubPort: number): string {
  const base = hostname.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'node';
  return `${base.slice(0, 33)}-${hubPort}`;
}
