/**
 * basic.json's keys, declared once (agent-core config-schema.ts): config.ts checks with it and
 * the docs/basic-agent.md table is generated from it (scripts/config-docs.mjs; a test fails on
 * drift).
 */
import { BASIC_POLICY_DEFAULT_PATH, logLevelKey, type ConfigDoc, type ConfigSchema } from '@aspire/agent-core';
import { DEFAULT_CHANNEL_PORT } from '@aspire/protocol';

const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$|^\[?[0-9a-fA-F:.]+\]?$/;

function checkTimezone(v: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en', { timeZone: v });
    return undefined;
  } catch {
    return 'unknown time zone';
  }
}

export const BASIC_CONFIG_SCHEMA = {
  serverHost: {
    type: 'string',
    default: '',
    // Empty: no hub yet. `-T` says so (exit 2); the daemon waits for it (cli/wait-for-hub.ts).
    check: (v) => (v === '' || HOST.test(v) ? undefined : 'not a host name or address'),
    docDefault: '(empty: no hub yet)',
    doc: 'channel server host name; every address it resolves to is tried in turn. Empty: `-T` exits 2 saying so (`--allow-no-server` accepts it), and the daemon waits, one log line per backoff, re-reading basic.json until it is set',
  },
  serverPort: { type: 'number', min: 1, max: 65535, default: DEFAULT_CHANNEL_PORT, doc: 'channel port' },
  ca: {
    type: 'string',
    default: '',
    docDefault: '(required)',
    doc: 'PEM file of the CA that signed the server certificate',
  },
  hostname: { type: 'optional-string', docDefault: '`os.hostname()`', doc: "name sent in `init` (the hub's host key)" },
  agentsn: { type: 'optional-string', doc: 'AgentSN sent in `init`, so Polaris can address the host by AgentSN' },
  bootMetafile: {
    type: 'string',
    default: '/var/lib/bootagent/meta.json',
    doc: 'without `agentsn`: the AgentSN BootAgent registered is read from here at each connection (only that field); `""` turns it off',
  },
  serverPublicKey: {
    type: 'string',
    default: '/var/lib/bootagent/identity/server-signing.pub',
    doc: 'the server signing key(s) the BootAgent pinned; every command frame must be signed with one of them, for this host, unexpired and not seen before, else it is refused with a `SIGNATURE_*` code ([security.md](security.md#signed-jobs-and-command-frames)); missing file: every frame refused',
  },
  tlsClientCert: {
    type: 'string',
    default: '/var/lib/bootagent/identity/host.crt',
    doc: 'PEM client certificate presented to the hub (mutual TLS): the BootAgent\'s, issued by the server\'s host CA and renewed by the BootAgent; read again at every connection attempt, so a renewal takes effect at the next reconnection; `""` sends none (the hub refuses the connection) ([security.md](security.md#host-identity-the-ca-and-client-certificates))',
  },
  tlsClientKey: {
    type: 'string',
    default: '/var/lib/bootagent/identity/host.key',
    doc: 'its private key (mode 0600, owned by root)',
  },
  concurrency: { type: 'number', min: 1, max: 256, default: 8, doc: 'sync.bash commands running at once' },
  queueMax: {
    type: 'number',
    min: 0,
    max: 10_000,
    default: 64,
    doc: 'commands waiting for a slot; beyond that `EXEC_BUSY` (261)',
  },
  crontab: { type: 'string', default: '/etc/basicagent/crontab', doc: 'periodic tasks file' },
  stateDir: { type: 'string', default: '/var/lib/basicagent', doc: '`tasks.json` (server-added tasks)' },
  logLevel: logLevelKey,
  heartbeatSec: {
    type: 'number',
    // At most 60 s: the hub closes a connection silent for 120 s (hub idleTimeoutMs).
    min: 1,
    max: 60,
    default: 30,
    doc: 'ping interval; no frame for 3 intervals drops the session (at most 60: the hub drops a connection silent for 120 s)',
  },
  connectTimeoutSec: {
    type: 'number',
    min: 1,
    max: 300,
    default: 10,
    doc: 'TCP + TLS + init/accept deadline per address',
  },
  backoffBaseMs: {
    type: 'number',
    min: 10,
    max: 600_000,
    default: 1000,
    doc: 'first delay of the jittered exponential backoff between passes',
  },
  backoffMaxMs: {
    type: 'number',
    min: 100,
    max: 3_600_000,
    default: 60_000,
    doc: 'longest delay of that backoff',
  },
  taskTimeoutSec: {
    type: 'number',
    min: 1,
    max: 7 * 86_400,
    default: 3600,
    doc: 'a periodic task run is killed after this',
  },
  crontabCheckSec: {
    type: 'number',
    min: 0,
    max: 86_400,
    default: 30,
    doc: "seconds between looks at the crontab file (size, mtime, inode): a change is re-read without SIGHUP (the BootAgent writes the policy's managed section, docs/lifecycle.md); 0: only at start and SIGHUP",
  },
  killIntervalMs: {
    type: 'number',
    min: 50,
    max: 60_000,
    default: 1000,
    doc: 'time between the SIGTERMs of the kill escalation',
  },
  timezone: {
    type: 'string',
    default: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
    check: checkTimezone,
    docDefault: "host's",
    doc: 'IANA zone of crontab schedules',
  },
  resultQueueMax: {
    type: 'number',
    min: 1,
    max: 100_000,
    default: 1000,
    doc: 'task results held while disconnected (oldest dropped first, count reported)',
  },
  policy: {
    type: 'string',
    default: BASIC_POLICY_DEFAULT_PATH,
    check: (v) => (v.startsWith('/') ? undefined : 'must be an absolute path'),
    doc: 'the host policy file (absolute path): commands, run-as users, collectors, operator signatures this host allows ([security.md](security.md#the-host-policy-file)); absent file: allow all; a bad one exits 2',
  },
} as const satisfies ConfigSchema;

/** docs/basic-agent.md's basic.json table. */
export const BASIC_CONFIG_DOC: ConfigDoc = { sections: [{ prefix: '', schema: BASIC_CONFIG_SCHEMA }] };
