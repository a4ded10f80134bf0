/**
 * boot.json: loaded and checked once at the edge (main.ts), every bad key listed, numbers
 * clamped to the named bounds below, frozen, then passed down. Nothing else reads the file.
 */
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { BOOT_POLICY_DEFAULT_PATH, type Bound, ConfigChecker, ConfigError, readConfigJson } from '@aspire/agent-core';
import type { SupervisionConfig } from '../contracts.ts';
import { checkPolicyConfig, type DesiredStateConfig } from './policy-config.ts';
import { checkTags } from './tags.ts';
import { readConfiguredKey } from '../state/server-key-pin.ts';
import { checkServerList } from '../net/server-list.ts';

export interface BootConfig {
  /** Seconds between status pushes until a `config` job sets another. */
  step: number;
  /**
   * Server list from the config file (`"servers": ["aspire.example:8080", "https://b"]` or one
   * string `"a:8080,b"`): after the build-time default and -S/metafile, before pushed lists
   * (docs/design.md "Server list"). Read at every start, never copied into the metafile.
   */
  servers: readonly string[];
  /** Sent as x-aspire-enroll on registration when set. */
  enrollSecret?: string;
  /** PEM file of the CA that https servers are verified against (system CAs when absent). */
  ca?: string;
  /** Host tags `k=v,k2=v2`, reported until the server sets its own. */
  tags?: string;
  /** Hostname reported to the server (default: the kernel's hostname). */
  hostname?: string;
  logLevel: string;
  /** Events kept while the server is away; the oldest go first beyond this. */
  eventQueueMax: number;
  /** Whole-request timeout of one HTTP exchange. */
  httpTimeoutSec: number;
  supervision: SupervisionConfig;
  /**
   * The server's signing key (base64 SPKI DER or PEM, or an absolute path of a file with one):
   * pinned at first start instead of the key of the first register reply (docs/security.md).
   */
  serverPublicKey?: string;
  /** The host policy file (docs/security.md): job actions and package sources; absent file: allow all. */
  policy: string;
  /** Desired-state convergence (boot.json `policy` as an object, config/policy-config.ts). */
  desiredState: DesiredStateConfig;
  /** The BootAgent's own upgrade (docs/lifecycle.md "BootAgent self-upgrade"). */
  selfUpgrade: SelfUpgradeConfig;
}

export interface SelfUpgradeConfig {
  /**
   * The new version must re-adopt the sub-agents and have a status push answered within this
   * long after the old one exec'd it; otherwise the old version comes back.
   */
  healthySec: number;
}

/** Named bounds: a value outside is clamped (and the clamp reported), never rejected. */
export const BOOT_BOUNDS = {
  step: { min: 1, max: 86_400, default: 600 },
  eventQueueMax: { min: 1, max: 100_000, default: 1000 },
  httpTimeoutSec: { min: 1, max: 600, default: 30 },
} as const satisfies Record<string, Bound>;

/** Small minimums on purpose: integration tests shrink every interval to fractions of a second. */
export const SUPERVISION_BOUNDS = {
  checkIntervalSec: { min: 0.05, max: 86_400, default: 60 },
  restartHoldSec: { min: 0, max: 86_400, default: 180 },
  strikeWindowSec: { min: 0.05, max: 7 * 86_400, default: 900 },
  maxStrikes: { min: 1, max: 1000, default: 3 },
  stopTimeoutSec: { min: 0.05, max: 3600, default: 10 },
  upgradeHealthySec: { min: 0.05, max: 86_400, default: 30 },
  downloadMaxBytes: { min: 1024, max: 64 * 1024 ** 3, default: 512 * 1024 ** 2 },
  watchdogIntervalSec: { min: 0.05, max: 3600, default: 5 },
} as const satisfies Record<string, Bound>;

export const SELF_UPGRADE_BOUNDS = {
  healthySec: { min: 1, max: 3600, default: 60 },
} as const satisfies Record<string, Bound>;

export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const KEYS = [
  'servers',
  'step',
  'enrollSecret',
  'ca',
  'tags',
  'hostname',
  'logLevel',
  'eventQueueMax',
  'httpTimeoutSec',
  'supervision',
  'serverPublicKey',
  'policy',
  'selfUpgrade',
];
const SUPERVISION_KEYS = [...Object.keys(SUPERVISION_BOUNDS), 'cgroupRoot'];

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
  const c = new ConfigChecker(raw as Record<string, unknown>, KEYS);
  const step = Math.round(c.number('step', BOOT_BOUNDS.step));
  const eventQueueMax = Math.round(c.number('eventQueueMax', BOOT_BOUNDS.eventQueueMax));
  const httpTimeoutSec = c.number('httpTimeoutSec', BOOT_BOUNDS.httpTimeoutSec);
  const logLevel = c.string('logLevel', 'info', (v) =>
    LOG_LEVELS.includes(v) ? undefined : `must be one of ${LOG_LEVELS.join(' ')}`,
  );
  const enrollSecret = c.optionalString('enrollSecret');
  const ca = c.optionalString('ca');
  if (ca !== undefined) {
    if (!isAbsolute(ca)) c.problems.push(`ca: must be an absolute path, got ${JSON.stringify(ca)}`);
    else if (!existsSync(ca)) c.problems.push(`ca: file ${ca} does not exist`);
  }
  const tags = c.optionalString('tags');
  const tagsProblem = tags === undefined ? undefined : checkTags(tags);
  if (tagsProblem) c.problems.push(`tags: ${tagsProblem}`);
  const hostname = c.optionalString('hostname');
  if (hostname !== undefined && (hostname.length === 0 || hostname.length > 255))
    c.problems.push('hostname: must be 1..255 characters');

  const servers = checkServers(c.rawValue('servers'), c.problems);
  const supervision = checkSupervision(c.rawValue('supervision'), c);
  const { file: policy, desiredState } = checkPolicyConfig(c.rawValue('policy'), c);
  const config: BootConfig = {
    step,
    servers,
    logLevel,
    eventQueueMax,
    httpTimeoutSec,
    supervision,
    policy,
    desiredState,
    selfUpgrade: checkSelfUpgrade(c.rawValue('selfUpgrade'), c),
  };
  if (enrollSecret !== undefined) config.enrollSecret = enrollSecret;
  if (ca !== undefined) config.ca = ca;
  if (tags !== undefined) config.tags = tags;
  if (hostname !== undefined) config.hostname = hostname;
  const serverPublicKey = c.optionalString('serverPublicKey');
  if (serverPublicKey !== undefined) {
    if (!readConfiguredKey(serverPublicKey))
      c.problems.push(
        'serverPublicKey: not an Ed25519 public key (base64 SPKI DER or PEM) nor an absolute path of a file holding one',
      );
    else config.serverPublicKey = serverPublicKey;
  }
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
  let obj: Record<string, unknown> = {};
  if (raw !== undefined) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      parent.problems.push('supervision: must be an object');
    else obj = raw as Record<string, unknown>;
  }
  const s = new ConfigChecker(obj, SUPERVISION_KEYS);
  const n = (k: keyof typeof SUPERVISION_BOUNDS) => s.number(k, SUPERVISION_BOUNDS[k]);
  const cgroupRoot = s.string('cgroupRoot', DEFAULT_CGROUP_ROOT, (v) =>
    isAbsolute(v) ? undefined : 'must be an absolute path',
  );
  const out: SupervisionConfig = {
    checkIntervalSec: n('checkIntervalSec'),
    restartHoldSec: n('restartHoldSec'),
    strikeWindowSec: n('strikeWindowSec'),
    maxStrikes: Math.round(n('maxStrikes')),
    stopTimeoutSec: n('stopTimeoutSec'),
    upgradeHealthySec: n('upgradeHealthySec'),
    downloadMaxBytes: Math.round(n('downloadMaxBytes')),
    watchdogIntervalSec: n('watchdogIntervalSec'),
    cgroupRoot,
  };
  parent.problems.push(...s.problems.map((p) => `supervision.${p}`));
  parent.notes.push(...s.notes.map((p) => `supervision.${p}`));
  return out;
}

function checkSelfUpgrade(raw: unknown, parent: ConfigChecker): SelfUpgradeConfig {
  let obj: Record<string, unknown> = {};
  if (raw !== undefined) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      parent.problems.push('selfUpgrade: must be an object');
    else obj = raw as Record<string, unknown>;
  }
  const s = new ConfigChecker(obj, Object.keys(SELF_UPGRADE_BOUNDS));
  const out: SelfUpgradeConfig = { healthySec: s.number('healthySec', SELF_UPGRADE_BOUNDS.healthySec) };
  parent.problems.push(...s.problems.map((p) => `selfUpgrade.${p}`));
  parent.notes.push(...s.notes.map((p) => `selfUpgrade.${p}`));
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
