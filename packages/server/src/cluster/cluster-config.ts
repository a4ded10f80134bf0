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
import {
  ConfigChecker,
  checkSchema,
  schemaBounds,
  schemaKeys,
  type ConfigDoc,
  type ConfigSchema,
} from '@aspire/agent-core';

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

/** Node ids name a LISTEN channel (hashed) and an application_name (63 bytes at most). */
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,39}$/;

/**
 * The `cluster` object's keys, declared once: the check below and docs/scale.md's table
 * (scripts/config-docs.mjs; a test fails on drift) come from here.
 */
export const CLUSTER_SCHEMA = {
  nodeId: {
    type: 'optional-string',
    check: (v) => (NODE_ID.test(v) ? undefined : '1-40 of A-Z a-z 0-9 . _ : -'),
    docDefault: '`<hostname>-<hub port>`',
    doc: "the node's name in the cluster tables and logs (1-40 of `A-Za-z0-9._:-`)",
  },
  advertise: {
    type: 'optional-string',
    check: (v) => (/^[\w.:[\]-]+:\d{1,5}$/.test(v) ? undefined : 'must be host:port'),
    docDefault: "the hub's bound address (the hostname when bound to 0.0.0.0)",
    doc: '`host:port` other nodes put in the `redirect` frame to send agents here',
  },
  heartbeatMs: {
    type: 'number',
    min: 100,
    max: 60_000,
    default: 2000,
    doc: 'how often the node renews its row (liveness, agent count); missing 3 beats makes it lost',
  },
  redirectMargin: {
    type: 'number',
    min: 0,
    max: 1_000_000,
    default: 16,
    doc: 'agents a node holds beyond a less loaded one before it redirects (or 10% of its own count)',
  },
  url: {
    type: 'optional-string',
    check: (v) => (/^postgres(ql)?:\/\//.test(v) ? undefined : 'must be a postgres:// URL'),
    docDefault: "the store's connection",
    doc: 'a separate PostgreSQL for the cluster layer only (nodes on their own SQLite; tests use it); never logged',
  },
  urlFile: {
    type: 'optional-string',
    docDefault: 'none',
    doc: 'a file holding that URL (one of `url`, `urlFile`)',
  },
} as const satisfies ConfigSchema;

export const CLUSTER_BOUNDS = schemaBounds(CLUSTER_SCHEMA);

/** docs/scale.md's cluster table. */
export const CLUSTER_CONFIG_DOC: ConfigDoc = { sections: [{ prefix: 'cluster.', schema: CLUSTER_SCHEMA }] };

export function checkClusterConfig(raw: unknown, problems: string[]): ClusterConfig | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push('cluster: must be an object');
    return undefined;
  }
  const c = new ConfigChecker(raw as Record<string, unknown>, schemaKeys(CLUSTER_SCHEMA));
  const { url, urlFile, ...rest } = checkSchema(c, CLUSTER_SCHEMA);
  const out: ClusterConfig = rest;
  if (url !== undefined && urlFile !== undefined) c.problems.push('url, urlFile: give one');
  const fromFile = urlFile !== undefined ? readUrlFile(urlFile, c.problems) : undefined;
  // The URL from the file is checked like `url` (the schema checked only a `url` given inline).
  const u = url ?? fromFile;
  if (u !== undefined && /^postgres(ql)?:\/\//.test(u)) out.url = u;
  else if (u !== undefined && url === undefined) c.problems.push('url: must be a postgres:// URL');
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
