/**
 * Server config: JSON file (--config) plus flags, checked once at the edge (every bad key
 * listed, numbers clamped to their bounds), frozen and passed down. Nothing reads process.env.
 * Every key, with its type, default, bounds and doc line, is declared once in config-schema.ts.
 */
import { ConfigChecker, checkSchema, schemaBounds, schemaKeys, type SchemaValues } from '@aspire/agent-core';
import { checkScope } from './http/operator-scope.ts';
import { checkStoreConfig, type StoreConfig } from './store/open-store.ts';
import { checkClusterConfig, type ClusterConfig } from './cluster/cluster-config.ts';
import { checkHubSettings, type HubSettings } from './hub/hub-options.ts';
import { RATE_LIMIT_SCHEMA, SERVER_CONFIG_SCHEMA } from './config-schema.ts';

export { parseListen } from './config-schema.ts';

/** Sustained POST /agent/register and /agent/status per second, and the bursts allowed above them. */
export type RateLimitConfig = SchemaValues<typeof RATE_LIMIT_SCHEMA>;

/** The scalar keys as SERVER_CONFIG_SCHEMA declares and documents them, and the object keys below. */
export type ServerConfig = SchemaValues<typeof SERVER_CONFIG_SCHEMA> & {
  /** SQLite in dataDir (default) or PostgreSQL (store/open-store.ts, docs/scale.md). */
  store: StoreConfig;
  /** Server-wide address allow list of the operator API (CIDRs); absent = every address. */
  operatorCidrs?: string[];
  rateLimit: RateLimitConfig;
  /**
   * Ed25519 private keys (PKCS#8 PEM files) that sign jobs and command frames: the current key,
   * then during a rotation the next one (announced to agents, signed by the current one).
   * Default: `<dataDir>/signing-key.pem`, made on first start (docs/security.md).
   */
  signingKeys?: string[];
  /** Several nodes on one PostgreSQL (cluster/cluster-config.ts, docs/scale.md). */
  cluster?: ClusterConfig;
  /** The BasicAgent command hub (hub/hub-options.ts), with the --hub-* flags over the file's. */
  hub?: HubSettings;
};

/** Named bounds (from the schemas): a value outside is clamped (and the clamp reported). */
export const BOUNDS = { ...schemaBounds(SERVER_CONFIG_SCHEMA), ...schemaBounds(RATE_LIMIT_SCHEMA) };

export interface ConfigResult {
  config: Readonly<ServerConfig>;
  notes: string[];
}

/** Check a raw config object (file contents merged with flags). */
export function checkConfig(raw: Record<string, unknown>, source: string): ConfigResult {
  const c = new ConfigChecker(raw, schemaKeys(SERVER_CONFIG_SCHEMA));
  const config: ServerConfig = {
    ...checkSchema(c, SERVER_CONFIG_SCHEMA),
    store: checkStoreConfig(c.rawValue('store'), c.problems),
    rateLimit: checkRateLimit(c.rawValue('rateLimit'), c),
  };
  const cidrs = operatorCidrs(c.rawValue('operatorCidrs'), c.problems);
  if (cidrs) config.operatorCidrs = cidrs;
  const cluster = checkClusterConfig(c.rawValue('cluster'), c.problems);
  if (cluster) config.cluster = cluster;
  const hub = checkHubSettings(c.rawValue('hub'), c);
  if (hub) config.hub = hub;
  const signingKeys = c.rawValue('signingKeys');
  if (signingKeys !== undefined) {
    if (
      !Array.isArray(signingKeys) ||
      signingKeys.length < 1 ||
      signingKeys.length > 2 ||
      !signingKeys.every((k) => typeof k === 'string' && k.length > 0)
    ) {
      c.problems.push(
        'signingKeys: must be a list of one or two PEM file paths (current, then next during a rotation)',
      );
    } else config.signingKeys = signingKeys as string[];
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined))
    c.problems.push('tlsCert, tlsKey: give both or neither');
  if ((config.hostCaCert === undefined) !== (config.hostCaKey === undefined))
    c.problems.push('hostCaCert, hostCaKey: give both or neither');
  return { config: c.finish(source, config), notes: [...c.notes] };
}

/** `rateLimit`: an object of RATE_LIMIT_SCHEMA's keys, problems and clamps named `rateLimit.KEY`. */
function checkRateLimit(raw: unknown, parent: ConfigChecker): RateLimitConfig {
  let obj: Record<string, unknown> = {};
  if (raw !== undefined) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      parent.problems.push('rateLimit: must be an object');
    else obj = raw as Record<string, unknown>;
  }
  const r = new ConfigChecker(obj, schemaKeys(RATE_LIMIT_SCHEMA));
  const rate = checkSchema(r, RATE_LIMIT_SCHEMA);
  parent.problems.push(...r.problems.map((p) => `rateLimit.${p}`));
  parent.notes.push(...r.notes.map((n) => `rateLimit.${n}`));
  return rate;
}

/** operatorCidrs: a non-empty list of addresses or CIDRs (checked like a token's cidrs). */
function operatorCidrs(raw: unknown, problems: string[]): string[] | undefined {
  if (raw === undefined) return undefined;
  const r = checkScope({ cidrs: raw });
  if (!r.ok) {
    problems.push(...r.problems.map((p) => `operatorCidrs: ${p.replace(/^cidrs: /, '')}`));
    return undefined;
  }
  return r.scope.cidrs;
}
