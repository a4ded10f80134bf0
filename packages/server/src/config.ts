/**
 * Server config: JSON file (--config) plus flags, checked once at the edge (every bad key
 * listed, numbers clamped to named bounds), frozen and passed down. Nothing reads process.env.
 */
import { ConfigChecker, type Bound } from '@aspire/agent-core';
import { MAX_STATUS_BODY_BYTES } from '@aspire/protocol';
import { checkScope } from './http/operator-scope.ts';
import { checkStoreConfig, type StoreConfig } from './store/open-store.ts';
import { checkClusterConfig, type ClusterConfig } from './cluster/cluster-config.ts';

export interface RateLimitConfig {
  /** Sustained POST /agent/register per second, and the burst allowed above it. */
  registerPerSec: number;
  registerBurst: number;
  /** Sustained POST /agent/status per second, and the burst allowed above it. */
  statusPerSec: number;
  statusBurst: number;
}

export interface ServerConfig {
  listen: string;
  dataDir: string;
  /** SQLite in dataDir (default) or PostgreSQL (store/open-store.ts, docs/scale.md). */
  store: StoreConfig;
  /** Registration needs this in x-aspire-enroll when set. */
  enrollSecret?: string;
  /** GET /metrics also accepts `Authorization: Bearer <metricsToken>` (a scraper's token, no operator rights). */
  metricsToken?: string;
  /** Base URL agents use to reach this server (package links); default: the Host the agent used. */
  publicUrl?: string;
  logLevel: string;
  logFile?: string;
  /** PEM files: when both are set the server speaks HTTPS only. */
  tlsCert?: string;
  tlsKey?: string;
  /**
   * The host CA (PEM files) that issues hosts' client certificates for the command channel;
   * default: made on first start in `<dataDir>/host-ca/` (docs/security.md "Host identity").
   */
  hostCaCert?: string;
  hostCaKey?: string;
  /**
   * PEM file of the previous host CA, still trusted by the hub during a CA rotation (hosts
   * holding its certificates keep their channel until their next renewal).
   */
  hostCaPreviousCert?: string;
  /** Lifetime of a host's client certificate; the BootAgent renews it when a third is left. */
  hostCertLifetimeSec: number;
  /** A host is offline after this many missed steps (seed: 3). */
  offlineMissedSteps: number;
  /** How often hosts are checked for missed steps. */
  offlineSweepSec: number;
  /** How often the task scheduler runs (delays, ttl, ttr, batches). */
  schedulerIntervalMs: number;
  /** How often dashboard counts are recomputed (seed 000 3.1: not per request). */
  dashboardIntervalSec: number;
  /** Default ttr of a task: a RESERVED subtask not reported within it goes back to READY. */
  taskTtrSec: number;
  /** How long a BURIED subtask waits for a kick before it is FAILED (TASK_BURIED_EXPIRED). */
  taskBuriedTtlSec: number;
  /** Largest JSON body accepted (a 10 MB status push is refused with 413). */
  bodyLimitBytes: number;
  /** Largest package upload. */
  uploadMaxBytes: number;
  /** Lifetime of a signed package link handed to an agent. */
  packageLinkSec: number;
  /** Events older than this (by arrival) are deleted by the sweep. */
  eventRetentionDays: number;
  /** Periodic-task results (command hub) kept per host and task: the newest this many. */
  taskResultsKeep: number;
  /** Periodic-task results older than this (by arrival) are deleted by the sweep. */
  taskResultRetentionDays: number;
  /** Audit rows older than this are deleted by the sweep (the only deleter of the audit table). */
  auditRetentionDays: number;
  /** Server-wide address allow list of the operator API (CIDRs); absent = every address. */
  operatorCidrs?: string[];
  rateLimit: RateLimitConfig;
  /**
   * Ed25519 private keys (PKCS#8 PEM files) that sign jobs and command frames: the current key,
   * then during a rotation the next one (announced to agents, signed by the current one).
   * Default: `<dataDir>/signing-key.pem`, made on first start (docs/security.md).
   */
  signingKeys?: string[];
  /** Validity of a signed job in a status reply. */
  signedJobSec: number;
  /** Several nodes on one PostgreSQL (cluster/cluster-config.ts, docs/scale.md). */
  cluster?: ClusterConfig;
}

export const BOUNDS = {
  offlineMissedSteps: { min: 1, max: 100, default: 3 },
  offlineSweepSec: { min: 0.05, max: 3600, default: 10 },
  schedulerIntervalMs: { min: 10, max: 60_000, default: 1000 },
  dashboardIntervalSec: { min: 0.05, max: 86_400, default: 30 },
  taskTtrSec: { min: 0.1, max: 30 * 86_400, default: 3600 },
  taskBuriedTtlSec: { min: 0.1, max: 365 * 86_400, default: 7 * 86_400 },
  bodyLimitBytes: { min: 1024, max: 64 * 1024 * 1024, default: MAX_STATUS_BODY_BYTES },
  uploadMaxBytes: { min: 1, max: 8 * 1024 * 1024 * 1024, default: 512 * 1024 * 1024 },
  packageLinkSec: { min: 60, max: 30 * 86_400, default: 7 * 86_400 },
  eventRetentionDays: { min: 1, max: 3650, default: 90 },
  taskResultsKeep: { min: 1, max: 100_000, default: 100 },
  taskResultRetentionDays: { min: 1, max: 3650, default: 30 },
  auditRetentionDays: { min: 1, max: 36500, default: 365 },
  signedJobSec: { min: 10, max: 86_400, default: 600 },
  hostCertLifetimeSec: { min: 10, max: 366 * 86_400, default: 7 * 86_400 },
  registerPerSec: { min: 0.1, max: 1e6, default: 50 },
  registerBurst: { min: 1, max: 1e6, default: 200 },
  statusPerSec: { min: 1, max: 1e7, default: 2000 },
  statusBurst: { min: 1, max: 1e7, default: 4000 },
} satisfies Record<string, Bound>;

const KEYS = [
  'listen',
  'dataDir',
  'store',
  'enrollSecret',
  'metricsToken',
  'publicUrl',
  'logLevel',
  'logFile',
  'tlsCert',
  'tlsKey',
  'hostCaCert',
  'hostCaKey',
  'hostCaPreviousCert',
  'hostCertLifetimeSec',
  'offlineMissedSteps',
  'offlineSweepSec',
  'schedulerIntervalMs',
  'dashboardIntervalSec',
  'taskTtrSec',
  'taskBuriedTtlSec',
  'bodyLimitBytes',
  'uploadMaxBytes',
  'packageLinkSec',
  'eventRetentionDays',
  'taskResultsKeep',
  'taskResultRetentionDays',
  'auditRetentionDays',
  'operatorCidrs',
  'rateLimit',
  'signingKeys',
  'signedJobSec',
  'cluster',
] as const;
const RATE_KEYS = ['registerPerSec', 'registerBurst', 'statusPerSec', 'statusBurst'] as const;
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface ConfigResult {
  config: Readonly<ServerConfig>;
  notes: string[];
}

/** Check a raw config object (file contents merged with flags). */
export function checkConfig(raw: Record<string, unknown>, source: string): ConfigResult {
  const c = new ConfigChecker(raw, KEYS);
  const rateRaw = raw.rateLimit ?? {};
  let rate: RateLimitConfig = { registerPerSec: 0, registerBurst: 0, statusPerSec: 0, statusBurst: 0 };
  const notes: string[] = [];
  if (typeof rateRaw !== 'object' || rateRaw === null || Array.isArray(rateRaw)) {
    c.problems.push('rateLimit: must be an object');
  } else {
    const r = new ConfigChecker(rateRaw as Record<string, unknown>, RATE_KEYS);
    rate = {
      registerPerSec: r.number('registerPerSec', BOUNDS.registerPerSec),
      registerBurst: r.number('registerBurst', BOUNDS.registerBurst),
      statusPerSec: r.number('statusPerSec', BOUNDS.statusPerSec),
      statusBurst: r.number('statusBurst', BOUNDS.statusBurst),
    };
    c.problems.push(...r.problems.map((p) => `rateLimit.${p}`));
    notes.push(...r.notes.map((n) => `rateLimit.${n}`));
  }
  const config: ServerConfig = {
    listen: c.string('listen', '127.0.0.1:8180', checkListen),
    dataDir: c.string('dataDir', '/var/lib/aspire', (v) => (v.length ? undefined : 'must not be empty')),
    store: checkStoreConfig(c.rawValue('store'), c.problems),
    enrollSecret: c.optionalString('enrollSecret'),
    metricsToken: c.optionalString('metricsToken'),
    publicUrl: c.optionalString('publicUrl'),
    logLevel: c.string('logLevel', 'info', (v) =>
      LEVELS.includes(v) ? undefined : `must be one of ${LEVELS.join(' ')}`,
    ),
    logFile: c.optionalString('logFile'),
    tlsCert: c.optionalString('tlsCert'),
    tlsKey: c.optionalString('tlsKey'),
    hostCaCert: c.optionalString('hostCaCert'),
    hostCaKey: c.optionalString('hostCaKey'),
    hostCaPreviousCert: c.optionalString('hostCaPreviousCert'),
    hostCertLifetimeSec: c.number('hostCertLifetimeSec', BOUNDS.hostCertLifetimeSec),
    offlineMissedSteps: c.number('offlineMissedSteps', BOUNDS.offlineMissedSteps),
    offlineSweepSec: c.number('offlineSweepSec', BOUNDS.offlineSweepSec),
    schedulerIntervalMs: c.number('schedulerIntervalMs', BOUNDS.schedulerIntervalMs),
    dashboardIntervalSec: c.number('dashboardIntervalSec', BOUNDS.dashboardIntervalSec),
    taskTtrSec: c.number('taskTtrSec', BOUNDS.taskTtrSec),
    taskBuriedTtlSec: c.number('taskBuriedTtlSec', BOUNDS.taskBuriedTtlSec),
    bodyLimitBytes: c.number('bodyLimitBytes', BOUNDS.bodyLimitBytes),
    uploadMaxBytes: c.number('uploadMaxBytes', BOUNDS.uploadMaxBytes),
    packageLinkSec: c.number('packageLinkSec', BOUNDS.packageLinkSec),
    eventRetentionDays: c.number('eventRetentionDays', BOUNDS.eventRetentionDays),
    taskResultsKeep: c.number('taskResultsKeep', BOUNDS.taskResultsKeep),
    taskResultRetentionDays: c.number('taskResultRetentionDays', BOUNDS.taskResultRetentionDays),
    auditRetentionDays: c.number('auditRetentionDays', BOUNDS.auditRetentionDays),
    operatorCidrs: operatorCidrs(c.rawValue('operatorCidrs'), c.problems),
    rateLimit: rate,
    signedJobSec: c.number('signedJobSec', BOUNDS.signedJobSec),
  };
  const cluster = checkClusterConfig(c.rawValue('cluster'), c.problems);
  if (cluster) config.cluster = cluster;
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
  if (config.enrollSecret !== undefined && config.enrollSecret.length < 8)
    c.problems.push('enrollSecret: must be at least 8 characters');
  if (config.metricsToken !== undefined && config.metricsToken.length < 16)
    c.problems.push('metricsToken: must be at least 16 characters');
  if (config.publicUrl !== undefined && !/^https?:\/\/[^/]+$/.test(config.publicUrl)) {
    c.problems.push('publicUrl: must be http(s)://host[:port] without a path');
  }
  notes.push(...c.notes);
  return { config: c.finish(source, config), notes };
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

function checkListen(v: string): string | undefined {
  return parseListen(v) ? undefined : 'must be HOST:PORT (e.g. 127.0.0.1:8180, [::1]:0)';
}

export function parseListen(v: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}
