/**
 * The server config file's keys, declared once (agent-core config-schema.ts): config.ts checks
 * with these schemas, and docs/server.md's table is generated from them
 * (scripts/config-docs.mjs; a test fails on drift). Keys holding an object or a list are `own`:
 * checked in config.ts or their part's module (store, cluster, hub).
 */
import { LOG_LEVELS, logLevelKey, type ConfigDoc, type ConfigSchema } from '@aspire/agent-core';
import { MAX_STATUS_BODY_BYTES } from '@aspire/protocol';
import { HUB_SCHEMA } from './hub/hub-options.ts';

export function parseListen(v: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

const atLeast = (n: number, what: string) => (v: string) =>
  v.length >= n ? undefined : `must be at least ${n} ${what}`;

export const SERVER_CONFIG_SCHEMA = {
  listen: {
    type: 'string',
    default: '127.0.0.1:8180',
    check: (v) => (parseListen(v) ? undefined : 'must be HOST:PORT (e.g. 127.0.0.1:8180, [::1]:0)'),
    docBounds: 'HOST:PORT',
    doc: 'address to listen on (`--listen`)',
  },
  dataDir: {
    type: 'string',
    default: '/var/lib/aspire',
    check: (v) => (v.length ? undefined : 'must not be empty'),
    doc: 'database and packages (`--data-dir`)',
  },
  store: {
    type: 'own',
    docDefault: 'SQLite in `dataDir`',
    docBounds: 'object',
    doc: '`{"kind": "postgres", "url": "postgres://user@host:5432/db", "passwordFile": F, "poolSize": 10}` selects the PostgreSQL store; `ASPIRE_DATABASE_URL` (env) wins over `url`, the password from `passwordFile`, else `ASPIRE_DATABASE_PASSWORD`, else the URL; logged as `***` ([scale.md](scale.md)); `aspire migrate` moves a SQLite deployment onto it',
  },
  metricsToken: {
    type: 'optional-string',
    check: atLeast(16, 'characters'),
    docDefault: 'none',
    docBounds: 'at least 16 characters',
    doc: "a scraper's bearer token for `GET /metrics` only ([metrics.md](metrics.md)); operator tokens work there too",
  },
  enrollSecret: {
    type: 'optional-string',
    check: atLeast(8, 'characters'),
    docDefault: 'unset',
    docBounds: '>= 8 chars',
    doc: 'when set, `POST /agent/register` needs it in `x-aspire-enroll`',
  },
  publicUrl: {
    type: 'optional-string',
    check: (v) => (/^https?:\/\/[^/]+$/.test(v) ? undefined : 'must be http(s)://host[:port] without a path'),
    docDefault: 'unset',
    docBounds: '`http(s)://host[:port]`',
    doc: 'base of package links handed to agents; default: the scheme and Host the agent used',
  },
  tlsCert: {
    type: 'optional-string',
    docDefault: 'unset',
    docBounds: 'both or neither',
    doc: 'PEM certificate (chain): with `tlsKey` the server speaks HTTPS only',
  },
  tlsKey: {
    type: 'optional-string',
    docDefault: 'unset',
    docBounds: 'both or neither',
    doc: 'PEM private key of `tlsCert`',
  },
  hostCaCert: {
    type: 'optional-string',
    docDefault: '`<dataDir>/host-ca/ca.crt` (made on first start)',
    docBounds: 'both or neither',
    doc: "PEM certificate of the host CA that issues hosts' client certificates for the command hub ([security.md](security.md#host-identity-the-ca-and-client-certificates))",
  },
  hostCaKey: {
    type: 'optional-string',
    docDefault: '`<dataDir>/host-ca/ca.key` (made on first start, 0600)',
    docBounds: 'both or neither',
    doc: 'its private key',
  },
  hostCaPreviousCert: {
    type: 'optional-string',
    docDefault: 'unset',
    docBounds: 'PEM file',
    doc: 'during a host CA rotation: the previous CA, still accepted by the hub',
  },
  hostCertLifetimeSec: {
    type: 'number',
    min: 10,
    max: 366 * 86_400,
    default: 7 * 86_400,
    doc: "lifetime of a host's client certificate; the BootAgent renews it through the status push when a third is left",
  },
  logLevel: { ...logLevelKey, docBounds: LOG_LEVELS.join(' '), doc: '`--log-level`' },
  logFile: { type: 'optional-string', docDefault: 'stderr', doc: '`--log-file`' },
  offlineMissedSteps: {
    type: 'number',
    min: 1,
    max: 100,
    default: 3,
    doc: 'a host is `offline` after this many missed steps',
  },
  offlineSweepSec: {
    type: 'number',
    min: 0.05,
    max: 3600,
    default: 10,
    doc: 'how often hosts are checked for missed steps',
  },
  schedulerIntervalMs: {
    type: 'number',
    min: 10,
    max: 60_000,
    default: 1000,
    doc: 'task scheduler pass (delays, ttl, ttr, batches)',
  },
  dashboardIntervalSec: {
    type: 'number',
    min: 0.05,
    max: 86_400,
    default: 30,
    doc: 'dashboard counts are recomputed this often, never per request',
  },
  taskTtrSec: { type: 'number', min: 0.1, max: 30 * 86_400, default: 3600, doc: 'default `ttr` of a task' },
  taskBuriedTtlSec: {
    type: 'number',
    min: 0.1,
    max: 365 * 86_400,
    default: 7 * 86_400,
    doc: 'how long a BURIED subtask waits for a kick before it is FAILED (`TASK_BURIED_EXPIRED`)',
  },
  bodyLimitBytes: {
    type: 'number',
    min: 1024,
    max: 64 * 1024 * 1024,
    default: MAX_STATUS_BODY_BYTES,
    docBounds: '1 KiB..64 MiB',
    doc: 'largest JSON body (a 10 MB status push gets 413)',
  },
  uploadMaxBytes: {
    type: 'number',
    min: 1,
    max: 8 * 1024 * 1024 * 1024,
    default: 512 * 1024 * 1024,
    docBounds: '1..8 GiB',
    doc: 'largest package upload',
  },
  packageLinkSec: {
    type: 'number',
    min: 60,
    max: 30 * 86_400,
    default: 7 * 86_400,
    doc: 'lifetime of a signed package link',
  },
  eventRetentionDays: {
    type: 'number',
    min: 1,
    max: 3650,
    default: 90,
    doc: 'events older than this (by arrival) are deleted (checked at start and hourly)',
  },
  taskResultsKeep: {
    type: 'number',
    min: 1,
    max: 100_000,
    default: 100,
    doc: 'periodic-task results (command hub) kept per host and task: the newest this many',
  },
  taskResultRetentionDays: {
    type: 'number',
    min: 1,
    max: 3650,
    default: 30,
    doc: 'periodic-task results older than this (by arrival) are deleted (with the events, at start and hourly)',
  },
  auditRetentionDays: {
    type: 'number',
    min: 1,
    max: 36500,
    default: 365,
    doc: 'audit rows older than this are deleted by the same sweep, the only thing that ever deletes them',
  },
  operatorCidrs: {
    type: 'own',
    docDefault: 'none',
    docBounds: 'list',
    doc: 'server-wide address allow list of `/api/v1/server/*` (CIDRs or addresses): anything else gets 403 before the token is read; absent = every address',
  },
  rateLimit: { type: 'own', docDefault: '', docBounds: 'object', doc: 'token buckets, the `rateLimit.` keys below' },
  signingKeys: {
    type: 'own',
    docDefault: '`<dataDir>/signing-key.pem` (made on first start, 0600)',
    docBounds: '1 or 2 files',
    doc: 'Ed25519 PKCS#8 PEM keys: the one that signs jobs and command frames, then the next one during a rotation ([security.md](security.md#signed-jobs-and-command-frames))',
  },
  signedJobSec: {
    type: 'number',
    min: 10,
    max: 86_400,
    default: 600,
    doc: 'how long a signed job of a status reply may still start',
  },
  cluster: {
    type: 'own',
    docDefault: 'unset',
    docBounds: 'object',
    doc: 'several nodes on one PostgreSQL: `nodeId`, `advertise`, `heartbeatMs`, `redirectMargin`, `url`/`urlFile` ([scale.md](scale.md)); on with a PostgreSQL store, off on SQLite',
  },
  hub: {
    type: 'own',
    docDefault: 'unset: no hub',
    docBounds: 'object',
    doc: 'the BasicAgent command hub ([basic-agent.md](basic-agent.md)), the `hub.` keys below; each `--hub-*` flag of `aspire serve` wins over its key',
  },
} as const satisfies ConfigSchema;

export const RATE_LIMIT_SCHEMA = {
  registerPerSec: {
    type: 'number',
    min: 0.1,
    max: 1e6,
    default: 50,
    doc: 'token bucket of `POST /agent/register`: sustained per second',
  },
  registerBurst: { type: 'number', min: 1, max: 1e6, default: 200, doc: 'and the burst allowed above it' },
  statusPerSec: {
    type: 'number',
    min: 1,
    max: 1e7,
    default: 2000,
    doc: 'token bucket of `POST /agent/status`: below what one server sustains (`bench/server-status.mjs`), so a fleet returning after an outage is told to come back later instead of timing out',
  },
  statusBurst: { type: 'number', min: 1, max: 1e7, default: 4000, doc: 'and the burst allowed above it' },
} as const satisfies ConfigSchema;

/** docs/server.md's config file table. */
export const SERVER_CONFIG_DOC: ConfigDoc = {
  columns: ['default', 'bounds'],
  sections: [
    { prefix: '', schema: SERVER_CONFIG_SCHEMA },
    { prefix: 'rateLimit.', schema: RATE_LIMIT_SCHEMA },
    { prefix: 'hub.', schema: HUB_SCHEMA },
  ],
};
