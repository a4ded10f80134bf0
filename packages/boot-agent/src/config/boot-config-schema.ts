/**
 * boot.json's keys, declared once (agent-core config-schema.ts): boot-config.ts checks with
 * these schemas, and docs/boot-agent.md's table is generated from them (scripts/config-docs.mjs;
 * a test fails on drift). Keys holding an object or a list are `own`: checked in boot-config.ts
 * or policy-config.ts, their members declared in the schemas below.
 */
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import {
  BOOT_POLICY_DEFAULT_PATH,
  LOG_LEVELS,
  logLevelKey,
  type ConfigDoc,
  type ConfigSchema,
} from '@aspire/agent-core';
import { readConfiguredKey } from '../state/server-key-pin.ts';
import { checkTags } from './tags.ts';

const absolute = (v: string) => (isAbsolute(v) ? undefined : 'must be an absolute path');

function checkCaFile(v: string): string | undefined {
  if (!isAbsolute(v)) return `must be an absolute path, got ${JSON.stringify(v)}`;
  return existsSync(v) ? undefined : `file ${v} does not exist`;
}

export const BOOT_CONFIG_SCHEMA = {
  servers: {
    type: 'own',
    docType: 'array of strings, or one string `a:8080,b`',
    docDefault: '`[]`',
    docBounds: 'each `host[:port]` (port 8180 by default) or an `http(s)://` URL',
    doc: "servers tried after the build-time default and `-S`/the metafile's list, before lists pushed by `config` jobs ([design.md](design.md#server-list)); read at every start, never copied into the metafile",
  },
  step: {
    type: 'number',
    integer: true,
    min: 1,
    max: 86_400,
    default: 600,
    docType: 'integer s',
    doc: 'push interval until a `config` job sets one',
  },
  enrollSecret: { type: 'optional-string', doc: 'sent as `x-aspire-enroll` on registration; never logged' },
  ca: {
    type: 'optional-string',
    check: checkCaFile,
    docType: 'absolute path',
    docDefault: 'system CAs',
    docBounds: 'must exist',
    doc: 'PEM CA for https servers; verification is never turned off',
  },
  serverPublicKey: {
    type: 'optional-string',
    check: (v) =>
      readConfiguredKey(v)
        ? undefined
        : 'not an Ed25519 public key (base64 SPKI DER or PEM) nor an absolute path of a file holding one',
    docType: 'base64 / PEM / absolute path',
    docDefault: "the first register reply's key",
    docBounds: 'an Ed25519 public key',
    doc: "the server's job-signing key, pinned into `identity/server-signing.pub` at first start; jobs not signed with the pinned key are refused ([security.md](security.md#signed-jobs-and-command-frames))",
  },
  tags: {
    type: 'optional-string',
    check: checkTags,
    docType: 'string `k=v,...`',
    docBounds: '4096 chars',
    doc: 'reported tags until the server sets its own',
  },
  hostname: {
    type: 'optional-string',
    check: (v) => (v.length === 0 || v.length > 255 ? 'must be 1..255 characters' : undefined),
    docDefault: 'kernel hostname',
    docBounds: '1..255',
    doc: 'hostname reported',
  },
  logLevel: { ...logLevelKey, docBounds: LOG_LEVELS.join(' '), doc: '' },
  eventQueueMax: {
    type: 'number',
    integer: true,
    min: 1,
    max: 100_000,
    default: 1000,
    doc: 'events kept while the server is away; oldest dropped first, count reported',
  },
  httpTimeoutSec: { type: 'number', min: 1, max: 600, default: 30, docType: 'number s', doc: 'whole-exchange timeout' },
  policy: {
    type: 'own',
    docType: 'absolute path, or an object',
    docDefault: `\`${BOOT_POLICY_DEFAULT_PATH}\``,
    doc: 'the host policy file: job actions and package sources this host allows ([security.md](security.md#the-host-policy-file)); absent file: allow all; a bad one exits 2. As an object `{file, fullCheckSec, crontab, crontabAgent}`: `file` is that path, the rest drive the desired-state convergence ([lifecycle.md](lifecycle.md#desired-state--on-the-host))',
  },
  supervision: { type: 'own', docType: 'object', doc: 'sub-agent supervision, the `supervision.` keys below' },
  selfUpgrade: { type: 'own', docType: 'object', doc: "the BootAgent's own upgrade, the `selfUpgrade.` keys below" },
} as const satisfies ConfigSchema;

/** boot.json `policy` as an object (config/policy-config.ts). */
export const POLICY_OBJECT_SCHEMA = {
  file: {
    type: 'string',
    default: BOOT_POLICY_DEFAULT_PATH,
    check: absolute,
    docType: 'absolute path',
    doc: 'the host policy file, as `policy` given as a string',
  },
  fullCheckSec: {
    type: 'number',
    min: 1,
    max: 30 * 86_400,
    default: 86_400,
    docType: 's',
    doc: "pull and check the full desired-state policy this often even when the status reply's hash matches",
  },
  crontab: {
    type: 'string',
    default: '/etc/basicagent/crontab',
    check: absolute,
    docType: 'absolute path',
    doc: "the BasicAgent crontab whose managed section the policy's periodic tasks replace",
  },
  crontabAgent: {
    type: 'string',
    default: 'BasicAgent',
    check: (v) => (/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v) ? undefined : 'must be a sub-agent name'),
    docType: 'sub-agent name',
    doc: 'the sub-agent sent SIGHUP after the section is written (when up for 10 s)',
  },
} as const satisfies ConfigSchema;

/** Small minimums on purpose: integration tests shrink every interval to fractions of a second. */
export const SUPERVISION_SCHEMA = {
  checkIntervalSec: {
    type: 'number',
    min: 0.05,
    max: 86_400,
    default: 60,
    docType: 's',
    doc: 'how often each sub-agent is checked (pid alive, `check` command)',
  },
  restartHoldSec: {
    type: 'number',
    min: 0,
    max: 86_400,
    default: 180,
    docType: 's',
    doc: 'an abnormal exit is restarted no sooner than this after the previous start',
  },
  strikeWindowSec: {
    type: 'number',
    min: 0.05,
    max: 7 * 86_400,
    default: 900,
    docType: 's',
    doc: 'an abnormal exit within this long of a start is a strike; a run this long clears them',
  },
  maxStrikes: {
    type: 'number',
    integer: true,
    min: 1,
    max: 1000,
    default: 3,
    doc: 'consecutive strikes that make a sub-agent fatal',
  },
  stopTimeoutSec: {
    type: 'number',
    min: 0.05,
    max: 3600,
    default: 10,
    docType: 's',
    doc: 'stop timeout before SIGKILL when the run spec has none',
  },
  upgradeHealthySec: {
    type: 'number',
    min: 0.05,
    max: 86_400,
    default: 30,
    docType: 's',
    doc: 'an upgraded sub-agent must stay up this long or the upgrade is rolled back',
  },
  downloadMaxBytes: {
    type: 'number',
    integer: true,
    min: 1024,
    max: 64 * 1024 ** 3,
    default: 512 * 1024 ** 2,
    docType: 'bytes',
    docDefault: '512 MiB',
    docBounds: '1 KiB..64 GiB',
    doc: 'largest package download accepted',
  },
  watchdogIntervalSec: {
    type: 'number',
    min: 0.05,
    max: 3600,
    default: 5,
    docType: 's',
    doc: 'watchdog sampling interval when cgroups cannot be written',
  },
  cgroupRoot: {
    type: 'string',
    default: '/sys/fs/cgroup',
    check: absolute,
    docType: 'absolute path',
    doc: 'where cgroups are created: a v2 mount or a v1 root holding `cpu/` and `memory/`',
  },
} as const satisfies ConfigSchema;

export const SELF_UPGRADE_SCHEMA = {
  healthySec: {
    type: 'number',
    min: 1,
    max: 3600,
    default: 60,
    docType: 's',
    doc: "the BootAgent's own upgrade: the new version must re-adopt the sub-agents and have a status push answered within this long, or the old one comes back ([lifecycle.md](lifecycle.md#bootagent-self-upgrade))",
  },
} as const satisfies ConfigSchema;

/** docs/boot-agent.md's boot.json table. */
export const BOOT_CONFIG_DOC: ConfigDoc = {
  columns: ['type', 'default', 'bounds'],
  sections: [
    { prefix: '', schema: BOOT_CONFIG_SCHEMA },
    { prefix: 'policy.', schema: POLICY_OBJECT_SCHEMA },
    { prefix: 'supervision.', schema: SUPERVISION_SCHEMA },
    { prefix: 'selfUpgrade.', schema: SELF_UPGRADE_SCHEMA },
  ],
};
