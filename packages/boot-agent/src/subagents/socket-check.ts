/**
 * The run spec's `socket` (design.md §3 "Supervision"'s daemon field) as a liveness check: at every check
 * interval the BootAgent connects to it, and a connection not made within the interval counts
 * like a failed check command: the agent is killed and the restart policy (3 strikes) decides.
 * Forms: an absolute path or `unix:/path` (a unix socket); `tcp://host:port`, `tcp:host:port`,
 * `host:port` or `[v6]:port` (TCP).
 */
import { connect } from 'node:net';
import type { Clock } from '@aspire/agent-core';

export type SocketTarget = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** Parse the field; a problem line when it is not one of the forms. */
export function parseSocket(v: unknown, problems: string[]): SocketTarget | undefined {
  if (v === undefined || v === '') return undefined;
  const bad = () => {
    problems.push(
      `socket: ${JSON.stringify(v)} is not a unix socket path (/run/x.sock, unix:/run/x.sock) nor a TCP address (host:port, tcp://host:port)`,
    );
    return undefined;
  };
  if (typeof v !== 'string') return bad();
  const s = v.trim();
  const unix = s.startsWith('unix:') ? s.slice(5) : s;
  if (unix.startsWith('/')) return unix.length > 1 && !unix.includes('\0') ? { kind: 'unix', path: unix } : bad();
  const tcp = s.replace(/^tcp:(\/\/)?/, '');
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(tcp);
  if (!m) return bad();
  const port = Number(m[2]);
  if (port < 1 || port > 65_535) return bad();
  return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export function describeSocket(t: SocketTarget): string {
  return t.kind === 'unix' ? `unix:${t.path}` : `tcp:${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
}

/** Connect and close at once; undefined when it connected, the reason otherwise. */
export function probeSocket(t: SocketTarget, timeoutMs: number, clock: Clock): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = t.kind === 'unix' ? connect({ path: t.path }) : connect({ host: t.host, port: t.port });
    let settled = false;
    const done = (reason: string | undefined) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      sock.destroy();
      resolve(reason);
    };
    const timer = clock.setTimeout(() => done(`no connection within ${timeoutMs} ms`), timeoutMs);
    sock.once('connect', () => done(undefined));
    sock.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}
