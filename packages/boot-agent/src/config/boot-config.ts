/**
 * boot.json: loaded and checked once at the edge (main.ts), every bad key listed, numbers
 * clamped to their bounds, frozen, then passed down. Nothing else reads the file. Every key,
 * with its type, default, bounds and doc line, is declared once in boot-config-schema.ts.
 */
import {
  ConfigChecker,
  ConfigError,
  checkSchema,
  readConfigJson,
  schemaBounds,
  schemaKeys,
  type SchemaValues,
} from '@aspire/agent-core';
import type { SupervisionConfig } from '../contracts.ts';
import { checkPolicyConfig, type DesiredStateConfig } from './policy-config.ts';
import { checkServerList } from '../net/server-list.ts';
import { BOOT_CONFIG_SCHEMA, SELF_UPGRADE_SCHEMA, SUPERVISION_SCHEMA } from './boot-config-schema.ts';

/**
 * boot.json checked: the scalar keys (step, enrollSecret, ca, tags, hostname, logLevel,
 * eventQueueMax, httpTimeoutSec, serverPublicKey) as BOOT_CONFIG_SCHEMA declares and documents
 * them, and the object keys below.
 */
export type BootConfig = SchemaValues<typeof BOOT_CONFIG_SCHEMA> & {
  /**
   * Server list from the config file (`"servers": ["aspire.example:8080", "https://b"]` or one
   * string `"a:8080,b"`): after the build-time default and -S/metafile, before pushed lists
   * (docs/design.md "Server list"). Read at every start, never copied into the metafile.
   */
  servers: readonly string[];
  supervision: SupervisionConfig;
  /** The host policy file (docs/security.md): job actions and package sources; absent file: allow all. */
  policy: string;
  /** Desired-state convergence (boot.json `policy` as an object, config/policy-config.ts). */
  desiredState: DesiredStateConfig;
  /** The BootAgent's own upgrade (docs/lifecycle.md "BootAgent self-upgrade"). */
  selfUpgrade: SelfUpgradeConfig;
};

export interface SelfUpgradeConfig {
  /**
   * The new version must re-adopt the sub-agents and have a status push answered within this
   * long after the old one exec'd it; otherwise the old version comes back.
   */
  healthySec: number;
}

/** Named bounds (from the schemas): a value outside is clamped (and the clamp reported), never rejected. */
export const BOOT_BOUNDS = schemaBounds(BOOT_CONFIG_SCHEMA);
export const SUPERVISION_BOUNDS = schemaBounds(SUPERVISION_SCHEMA);
export const SELF_UPGRADE_BOUNDS = schemaBounds(SELF_UPGRADE_SCHEMA);
export const DEFAULT_CGROUP_ROOT = SUPERVISION_SCHEMA.cgroupRoot.default;

export interface CheckedConfig {
  config: Readonly<BootConfig>;
  /** Clamps and defaults worth a log line (not errors). */
  notes: string[];
}

/** Check a parsed boot.json. Throws ConfigError naming every bad key. */
export function checkBootConfig(raw: unknown, source: string): CheckedConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(source, ['(top level): must be a JSON object']);
  }
  const c = new ConfigChecker(raw as Record<string, unknown>, schemaKeys(BOOT_CONFIG_SCHEMA));
  const scalars = checkSchema(c, BOOT_CONFIG_SCHEMA);
  const servers = checkServers(c.rawValue('servers'), c.problems);
  const supervision = checkSupervision(c.rawValue('supervision'), c);
  const { file: policy, desiredState } = checkPolicyConfig(c.rawValue('policy'), c);
  const config: BootConfig = {
    ...scalars,
    servers,
    supervision,
    policy,
    desiredState,
    selfUpgrade: checkSelfUpgrade(c.rawValue('selfUpgrade'), c),
  };
  return { config: c.finish(source, config), notes: c.notes };
}

/** `servers`: an array of entries or one comma-separated string, each host[:port] or an http(s) URL. */
function checkServers(raw: unknown, problems: string[]): readonly string[] {
  if (raw === undefined) return [];
  let text: string;
  if (typeof raw === 'string') text = raw;
  else if (Array.isArray(raw) && raw.every((e) => typeof e === 'string')) text = raw.join(',');
  else {
    problems.push('servers: must be an array of strings like ["aspire.example:8080"] or one string "a:8080,b"');
    return [];
  }
  const checked = checkServerList(text);
  if (!checked.ok) {
    problems.push(`servers: ${checked.error}`);
    return [];
  }
  return Object.freeze(checked.entries);
}

function checkSupervision(raw: unknown, parent: ConfigChecker): SupervisionConfig {
  return checkMember(raw, parent, 'supervision', (s) => checkSchema(s, SUPERVISION_SCHEMA));
}

function checkSelfUpgrade(raw: unknown, parent: ConfigChecker): SelfUpgradeConfig {
  return checkMember(raw, parent, 'selfUpgrade', (s) => checkSchema(s, SELF_UPGRADE_SCHEMA));
}

/** An object key of boot.json checked by its own schema; problems and clamps named `key.member`. */
function checkMember<T>(
  raw: unknown,
  parent: ConfigChecker,
  key: 'supervision' | 'selfUpgrade',
  check: (c: ConfigChecker) => T,
): T {
  let obj: Record<string, unknown> = {};
  if (raw !== undefined) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      parent.problems.push(`${key}: must be an object`);
    else obj = raw as Record<string, unknown>;
  }
  const schema = key === 'supervision' ? SUPERVISION_SCHEMA : SELF_UPGRADE_SCHEMA;
  const s = new ConfigChecker(obj, schemaKeys(schema));
  const out = check(s);
  parent.problems.push(...s.problems.map((p) => `${key}.${p}`));
  parent.notes.push(...s.notes.map((p) => `${key}.${p}`));
  return out;
}

/**
 * Read and check boot.json. A missing file is an error when the operator named it (-c), and
 * means "all defaults" when it is the packaged default path that is absent.
 */
export function loadBootConfig(path: string, opts: { required: boolean }): CheckedConfig {
  const file = readConfigJson(path);
  if (file.kind === 'missing') {
    if (opts.required) throw new ConfigError(path, ['cannot read file: it does not exist']);
    const checked = checkBootConfig({}, path);
    return { config: checked.config, notes: [`${path} not found: using defaults`, ...checked.notes] };
  }
  return checkBootConfig(file.raw, path);
}
