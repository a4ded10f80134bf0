/**
 * Command hub settings: the `hub` object of the server config, each key declared once in
 * HUB_SCHEMA (type, default, bounds, doc: docs/server.md's table comes from it), with the
 * `aspire serve` flags (--hub-listen, --hub-cert, ...) as overrides. The config check takes the
 * settings (checkHubSettings); the hub's start reads the PEM files (checkHubOptions).
 */
import { readFileSync } from 'node:fs';
import {
  ConfigChecker,
  checkSchema,
  schemaBounds,
  schemaKeys,
  type ConfigSchema,
  type SchemaValues,
} from '@aspire/agent-core';

export interface HubOptions {
  host: string;
  port: number;
  /** PEM text of the certificate chain and key the agents verify. */
  cert: string;
  key: string;
  /** Servers a connecting agent is redirected to (`ip1,ip2:port`); empty = accept every agent. */
  redirect: string;
  /** With `redirect` set: agents beyond this many connected here are redirected (0 = all). */
  redirectOver: number;
  /** The TLS handshake must finish within this, and then the init frame arrive within this again. */
  handshakeTimeoutMs: number;
  /** A connection that sends nothing (not even a ping) for this long is closed. */
  idleTimeoutMs: number;
  /** Malformed frames tolerated on one connection before it is closed. */
  maxBadFrames: number;
  /** Added to a command's own timeout before the hub answers CHANNEL_TIMEOUT. */
  replyGraceMs: number;
  /** Deadline of requests without their own timeout (getinfo, task.*). */
  defaultDeadlineMs: number;
}

const REDIRECT = /^[\w.:[\],\s-]*$/;

export const HUB_SCHEMA = {
  listen: {
    type: 'string',
    default: '',
    docDefault: 'none: no hub',
    docBounds: 'HOST:PORT',
    doc: 'start the BasicAgent command hub (TLS) on this address, port 0: any free port (`--hub-listen`)',
  },
  cert: {
    type: 'string',
    default: '',
    docDefault: 'none',
    docBounds: 'PEM file',
    doc: 'certificate (chain) the agents verify against their CA; required with `listen` (`--hub-cert`)',
  },
  key: {
    type: 'string',
    default: '',
    docDefault: 'none',
    docBounds: 'PEM file',
    doc: 'private key of `cert`; required with `listen` (`--hub-key`)',
  },
  redirect: {
    type: 'string',
    default: '',
    check: (v) => (REDIRECT.test(v) ? undefined : 'must be a list like "ip1,ip2:port"'),
    docDefault: 'none',
    docBounds: '`ip1,ip2:port`',
    doc: 'redirect connecting agents to these servers (`--hub-redirect`)',
  },
  redirectOver: {
    type: 'number',
    min: 0,
    max: 10_000_000,
    default: 0,
    doc: 'with `redirect`: redirect only agents beyond this many connected here, 0: all (`--hub-redirect-over`)',
  },
  handshakeTimeoutMs: {
    type: 'number',
    min: 100,
    max: 120_000,
    default: 10_000,
    doc: 'the TLS handshake must finish within this, and the init frame then arrive within this again (`--hub-handshake-timeout-ms`)',
  },
  idleTimeoutMs: {
    type: 'number',
    min: 500,
    max: 3_600_000,
    default: 120_000,
    doc: 'a connection that sends nothing (not even a ping) for this long is closed (`--hub-idle-timeout-ms`)',
  },
  maxBadFrames: {
    type: 'number',
    min: 1,
    max: 10_000,
    default: 10,
    doc: 'malformed frames tolerated on one connection before it is closed',
  },
  replyGraceMs: {
    type: 'number',
    min: 0,
    max: 600_000,
    default: 15_000,
    doc: "added to a command's own timeout before the hub answers `CHANNEL_TIMEOUT`",
  },
  defaultDeadlineMs: {
    type: 'number',
    min: 100,
    max: 3_600_000,
    default: 60_000,
    doc: 'deadline of requests without their own timeout (getinfo, task.*)',
  },
} as const satisfies ConfigSchema;

export const HUB_BOUNDS = schemaBounds(HUB_SCHEMA);

/** The server config's `hub` object, checked (flags already merged in); `listen` empty: no hub. */
export type HubSettings = SchemaValues<typeof HUB_SCHEMA>;

/** `host:port` (IPv6 in brackets). */
export function parseListen(listen: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d+)$/.exec(listen.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 0 || port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

/**
 * The server config's `hub` object: every key of HUB_SCHEMA, problems and clamps named
 * `hub.KEY` in `parent`. A listen address must parse; cert and key are required with it (the
 * files are read when the hub starts).
 */
export function checkHubSettings(raw: unknown, parent: ConfigChecker): HubSettings | undefined {
  if (raw === undefined) return undefined;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    parent.problems.push('hub: must be an object');
    return undefined;
  }
  const c = new ConfigChecker(raw as Record<string, unknown>, schemaKeys(HUB_SCHEMA));
  const settings = checkSchema(c, HUB_SCHEMA);
  if (settings.listen !== '') {
    if (!parseListen(settings.listen)) c.problems.push(`listen: ${JSON.stringify(settings.listen)} is not host:port`);
    if (!settings.cert) c.problems.push('cert: required (PEM file)');
    if (!settings.key) c.problems.push('key: required (PEM file)');
  }
  parent.problems.push(...c.problems.map((p) => `hub.${p}`));
  parent.notes.push(...c.notes.map((n) => `hub.${n}`));
  return settings;
}

/** Raw keys of HUB_SCHEMA; reads the cert and key files. */
export function checkHubOptions(raw: Record<string, unknown>, source = 'hub'): Readonly<HubOptions> {
  const c = new ConfigChecker(raw, schemaKeys(HUB_SCHEMA));
  const s = checkSchema(c, HUB_SCHEMA);
  const addr = parseListen(s.listen);
  if (!addr) c.problems.push(`listen: ${JSON.stringify(s.listen)} is not host:port`);
  const readPem = (k: 'cert' | 'key'): string => {
    const path = s[k];
    if (!path) {
      c.problems.push(`${k}: required (PEM file)`);
      return '';
    }
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      c.problems.push(`${k}: cannot read ${path}: ${(err as Error).message}`);
      return '';
    }
  };
  const cert = readPem('cert');
  const key = readPem('key');
  return c.finish(source, {
    host: addr?.host ?? '127.0.0.1',
    port: addr?.port ?? 0,
    cert,
    key,
    redirect: s.redirect.trim(),
    redirectOver: s.redirectOver,
    handshakeTimeoutMs: s.handshakeTimeoutMs,
    idleTimeoutMs: s.idleTimeoutMs,
    maxBadFrames: s.maxBadFrames,
    replyGraceMs: s.replyGraceMs,
    defaultDeadlineMs: s.defaultDeadlineMs,
  });
}
