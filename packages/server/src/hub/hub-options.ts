/**
 * Command hub settings: from `aspire serve` flags (--hub-listen, --hub-cert, --hub-key,
 * --hub-redirect, --hub-redirect-over) or a `hub` object in the server config. Checked once,
 * frozen, passed down.
 */
import { readFileSync } from 'node:fs';
import { ConfigChecker, type Bound } from '@aspire/agent-core';

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

export const HUB_BOUNDS = {
  handshakeTimeoutMs: { min: 100, max: 120_000, default: 10_000 },
  idleTimeoutMs: { min: 500, max: 3_600_000, default: 120_000 },
  maxBadFrames: { min: 1, max: 10_000, default: 10 },
  replyGraceMs: { min: 0, max: 600_000, default: 15_000 },
  defaultDeadlineMs: { min: 100, max: 3_600_000, default: 60_000 },
  redirectOver: { min: 0, max: 10_000_000, default: 0 },
} satisfies Record<string, Bound>;

const KEYS = ['listen', 'cert', 'key', 'redirect', ...Object.keys(HUB_BOUNDS)];

/** `host:port` (IPv6 in brackets). */
export function parseListen(listen: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d+)$/.exec(listen.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 0 || port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

/** Raw keys: listen, cert (file), key (file), redirect, and the numbers of HUB_BOUNDS. */
export function checkHubOptions(raw: Record<string, unknown>, source = 'hub'): Readonly<HubOptions> {
  const c = new ConfigChecker(raw, KEYS);
  const listen = c.string('listen', '');
  const addr = parseListen(listen);
  if (!addr) c.problems.push(`listen: ${JSON.stringify(listen)} is not host:port`);
  const readPem = (k: string): string => {
    const path = c.string(k, '');
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
  const redirect = c.string('redirect', '', (v) =>
    /^[\w.:[\],\s-]*$/.test(v) ? undefined : 'must be a list like "ip1,ip2:port"',
  );
  const n = (k: keyof typeof HUB_BOUNDS) => c.number(k, HUB_BOUNDS[k]);
  return c.finish(source, {
    host: addr?.host ?? '127.0.0.1',
    port: addr?.port ?? 0,
    cert,
    key,
    redirect: redirect.trim(),
    redirectOver: n('redirectOver'),
    handshakeTimeoutMs: n('handshakeTimeoutMs'),
    idleTimeoutMs: n('idleTimeoutMs'),
    maxBadFrames: n('maxBadFrames'),
    replyGraceMs: n('replyGraceMs'),
    defaultDeadlineMs: n('defaultDeadlineMs'),
  });
}
