import { BASIC_POLICY_DEFAULT_PATH, ConfigChecker, ConfigError, readConfigObject } from '@aspire/agent-core';
import { DEFAULT_CHANNEL_PORT } from '@aspire/protocol';

/** /etc/basicagent/basic.json, validated once at the edge and frozen. */
export interface BasicConfig {
  /** Channel server host name: resolved to every address (seed 003 step 1). */
  serverHost: string;
  serverPort: number;
  /** PEM file of the CA the server certificate must chain to. */
  ca: string;
  /** Sent in `init`; default os.hostname(). */
  hostname?: string;
  /** Sent in `init` when known, so the hub can address the host by AgentSN too. */
  agentsn?: string;
  /**
   * BootAgent's metafile: without `agentsn`, the AgentSN it registered is read from here at each
   * connection (only that field). "" turns it off.
   */
  bootMetafile: string;
  /**
   * The pinned server signing key(s): the file the BootAgent writes at registration
   * (`identity/server-signing.pub` in its state dir). Every command frame must verify against it.
   */
  serverPublicKey: string;
  /**
   * PEM client certificate and key the hub requires (mutual TLS, docs/security.md "Host
   * identity"): the BootAgent's, issued by the server's host CA at registration and renewed by
   * it. Re-read at every (re)connection, so a renewal takes effect. "" sends none.
   */
  tlsClientCert: string;
  tlsClientKey: string;
  /** Commands (sync.bash) running at once, and how many more may wait. */
  concurrency: number;
  queueMax: number;
  crontab: string;
  stateDir: string;
  logLevel: string;
  heartbeatSec: number;
  connectTimeoutSec: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Periodic task runs are killed after this long. */
  taskTimeoutSec: number;
  /** Seconds between looks for a change of the crontab file (re-read without SIGHUP); 0: never. */
  crontabCheckSec: number;
  /** Time between the SIGTERMs of the kill escalation. */
  killIntervalMs: number;
  /** Time zone of crontab schedules (IANA name); default the host's. */
  timezone: string;
  /** task.result frames held while the server is away; the oldest go first. */
  resultQueueMax: number;
  /** The host policy file (docs/security.md); absent file: allow all. */
  policy: string;
}

export const CONFIG_DEFAULT_PATH = '/etc/basicagent/basic.json';

const KNOWN = [
  'serverHost',
  'serverPort',
  'ca',
  'hostname',
  'agentsn',
  'concurrency',
  'queueMax',
  'crontab',
  'stateDir',
  'logLevel',
  'heartbeatSec',
  'connectTimeoutSec',
  'backoffBaseMs',
  'backoffMaxMs',
  'taskTimeoutSec',
  'crontabCheckSec',
  'killIntervalMs',
  'timezone',
  'resultQueueMax',
  'bootMetafile',
  'serverPublicKey',
  'policy',
  'tlsClientCert',
  'tlsClientKey',
];

const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$|^\[?[0-9a-fA-F:.]+\]?$/;

export function checkConfig(raw: unknown, source: string): Readonly<BasicConfig> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(source, ['must be a JSON object']);
  const c = new ConfigChecker(raw as Record<string, unknown>, KNOWN);
  // Empty: no hub yet. `-T` says so (exit 2); the daemon waits for it (cli/wait-for-hub.ts).
  const serverHost = c.string('serverHost', '', (v) =>
    v === '' || HOST.test(v) ? undefined : 'not a host name or address',
  );
  const ca = c.string('ca', '');
  if (!ca) c.problems.push('ca: required (PEM file of the CA that signed the server certificate)');
  const logLevel = c.string('logLevel', 'info', (v) =>
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(v)
      ? undefined
      : 'one of fatal error warn info debug trace silent',
  );
  const timezone = c.string('timezone', Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC', (v) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: v });
      return undefined;
    } catch {
      return 'unknown time zone';
    }
  });
  const hostname = c.optionalString('hostname');
  const agentsn = c.optionalString('agentsn');
  const cfg: BasicConfig = {
    serverHost,
    serverPort: c.number('serverPort', { min: 1, max: 65535, default: DEFAULT_CHANNEL_PORT }),
    ca,
    ...(hostname ? { hostname } : {}),
    ...(agentsn ? { agentsn } : {}),
    bootMetafile: c.string('bootMetafile', '/var/lib/bootagent/meta.json'),
    serverPublicKey: c.string('serverPublicKey', '/var/lib/bootagent/identity/server-signing.pub'),
    tlsClientCert: c.string('tlsClientCert', '/var/lib/bootagent/identity/host.crt'),
    tlsClientKey: c.string('tlsClientKey', '/var/lib/bootagent/identity/host.key'),
    concurrency: c.number('concurrency', { min: 1, max: 256, default: 8 }),
    queueMax: c.number('queueMax', { min: 0, max: 10_000, default: 64 }),
    crontab: c.string('crontab', '/etc/basicagent/crontab'),
    stateDir: c.string('stateDir', '/var/lib/basicagent'),
    logLevel,
    // At most 60 s: the hub closes a connection silent for 120 s (--hub-idle-timeout-ms).
    heartbeatSec: c.number('heartbeatSec', { min: 1, max: 60, default: 30 }),
    connectTimeoutSec: c.number('connectTimeoutSec', { min: 1, max: 300, default: 10 }),
    backoffBaseMs: c.number('backoffBaseMs', { min: 10, max: 600_000, default: 1000 }),
    backoffMaxMs: c.number('backoffMaxMs', { min: 100, max: 3_600_000, default: 60_000 }),
    taskTimeoutSec: c.number('taskTimeoutSec', { min: 1, max: 7 * 86_400, default: 3600 }),
    crontabCheckSec: c.number('crontabCheckSec', { min: 0, max: 86_400, default: 30 }),
    killIntervalMs: c.number('killIntervalMs', { min: 50, max: 60_000, default: 1000 }),
    timezone,
    resultQueueMax: c.number('resultQueueMax', { min: 1, max: 100_000, default: 1000 }),
    policy: c.string('policy', BASIC_POLICY_DEFAULT_PATH, (v) =>
      v.startsWith('/') ? undefined : 'must be an absolute path',
    ),
  };
  return c.finish(source, cfg);
}

/** Read and check basic.json; a missing, malformed or non-object file is a ConfigError naming it. */
export function loadConfig(path: string): Readonly<BasicConfig> {
  return checkConfig(readConfigObject(path), path);
}
