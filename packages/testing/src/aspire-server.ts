import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Agent, fetch as undiciFetch } from 'undici';
import { binary } from './binaries.ts';
import { Child } from './child.ts';
import { sharedTestHostCa } from './tls-certs.ts';

const run = promisify(execFile);

export interface AspireApiAnswer {
  status: number;
  // The envelope {status, message, cause?} plus the route's fields.
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

export interface AspireHandle {
  url: string;
  token: string;
  enrollSecret: string;
  dataDir: string;
  configFile: string;
  child: Child;
  /** The command hub's `host:port` when started with `hub` (BasicAgent channel, TLS). */
  hubAddress?: { host: string; port: number } | undefined;
  /** Base64 SPKI DER of the server's job/frame signing key (GET /agent/signing-key). */
  signingKey: string;
  /** Operator REST call with the token; path like '/api/v1/server/task?id=1'. */
  api(
    method: string,
    path: string,
    body?: unknown,
    opts?: { token?: string | null; headers?: Record<string, string> },
  ): Promise<AspireApiAnswer>;
  /**
   * Create another operator token with the real CLI (`aspire token create --name NAME ...flags`,
   * e.g. ['--role', 'operator', '--tags', 'role=web']); resolves with the token.
   */
  createToken(name: string, flags?: string[]): Promise<string>;
  /** Revoke every token with this name with the real CLI (`aspire token revoke`). */
  revokeToken(name: string): Promise<void>;
  /** Stop the server (SIGTERM) and start it again on the same port and data dir. */
  restart(): Promise<void>;
  /** Stop the server; removes the temp data dir unless keepDataDir was given. */
  stop(): Promise<void>;
}

export interface StartAspireOptions {
  /** Extra server config keys (docs/server.md), merged over the test defaults. */
  config?: Record<string, unknown>;
  /** Use this data dir instead of a fresh temp one (kept on stop). */
  dataDir?: string;
  keepDataDir?: boolean;
  /** PEM of the CA that signed the server's tlsCert: api() verifies the server against it. */
  caCert?: string;
  /** Env for the child (e.g. nothing); the server reads no env itself. */
  env?: NodeJS.ProcessEnv;
  /**
   * Let the server make its own host CA in its data dir (the product default) instead of the
   * per-process shared test host CA (sharedTestHostCa).
   */
  ownHostCa?: boolean;
  /** Start the BasicAgent command hub on 127.0.0.1:0 with this certificate (see makeTestCa). */
  hub?: {
    certFile: string;
    keyFile: string;
    redirect?: string;
    redirectOver?: number;
    idleTimeoutMs?: number;
    handshakeTimeoutMs?: number;
  };
}

function hubArgs(hub: StartAspireOptions['hub'], listen: string): string[] {
  if (!hub) return [];
  const a = ['--hub-listen', listen, '--hub-cert', hub.certFile, '--hub-key', hub.keyFile];
  if (hub.redirect !== undefined) a.push('--hub-redirect', hub.redirect);
  if (hub.redirectOver !== undefined) a.push('--hub-redirect-over', String(hub.redirectOver));
  if (hub.idleTimeoutMs !== undefined) a.push('--hub-idle-timeout-ms', String(hub.idleTimeoutMs));
  if (hub.handshakeTimeoutMs !== undefined) a.push('--hub-handshake-timeout-ms', String(hub.handshakeTimeoutMs));
  return a;
}

/** Servers started by this process and not stopped: startBasicAgent enrolls its host on each. */
const liveServers = new Set<AspireHandle>();

export function runningAspireServers(): AspireHandle[] {
  return [...liveServers];
}

/** Signing keys of the servers this process started and has not stopped (startBasicAgent pins them). */
const runningSigningKeys = new Map<object, string>();

export function runningServerSigningKeys(): string[] {
  return [...new Set(runningSigningKeys.values())];
}

/** Defaults that make a test server quick: short sweeps and scheduler passes. */
export const TEST_SERVER_DEFAULTS = {
  offlineSweepSec: 0.5,
  schedulerIntervalMs: 200,
  dashboardIntervalSec: 0.5,
  logLevel: 'info',
} as const;

/**
 * Start the real `aspire` server (the built bundle, or the single executable under
 * ASPIRE_BIN_DIR) as a child process on 127.0.0.1:0 in a temp data dir, with a fresh
 * enrollment secret and operator token.
 */
export async function startAspire(opts: StartAspireOptions = {}): Promise<AspireHandle> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'aspire-srv-'));
  const removeOnStop = !opts.dataDir && !opts.keepDataDir;
  const enrollSecret = randomBytes(16).toString('hex');
  const configFile = join(dataDir, 'aspire.json');
  const hostCa = opts.ownHostCa
    ? {}
    : { hostCaCert: sharedTestHostCa().certFile, hostCaKey: sharedTestHostCa().keyFile };
  writeFileSync(
    configFile,
    JSON.stringify({ ...TEST_SERVER_DEFAULTS, enrollSecret, ...hostCa, ...opts.config }, null, 2),
  );
  const bin = binary('aspire');
  const { stdout } = await run(bin.cmd, [...bin.args, 'token', 'create', '--data-dir', dataDir, '--name', 'test'], {
    env: opts.env ?? process.env,
  });
  const token = stdout.trim();

  // TLS verification stays on: the test's CA is added, nothing is skipped.
  const dispatcher = opts.caCert ? new Agent({ connect: { ca: opts.caCert } }) : undefined;
  let hubAddress: { host: string; port: number } | undefined;
  const launch = async (listen: string): Promise<{ child: Child; url: string }> => {
    // A restart keeps the hub's port too, so connected agents find it again.
    const hubListen = hubAddress ? `127.0.0.1:${hubAddress.port}` : '127.0.0.1:0';
    const child = new Child(
      bin.cmd,
      [
        ...bin.args,
        'serve',
        '--listen',
        listen,
        '--data-dir',
        dataDir,
        '--config',
        configFile,
        ...hubArgs(opts.hub, hubListen),
      ],
      {
        env: opts.env ?? process.env,
      },
    );
    const m = await Promise.race([
      child.waitForLine(/^aspire: listening on (https?:\/\/\S+)$/, 30_000),
      child.exited.then((e) => {
        throw new Error(`aspire exited (${e.code ?? e.signal}) before listening:\n${child.output.slice(-4000)}`);
      }),
    ]);
    if (opts.hub) {
      const h = await child.waitForLine(/^aspire: hub listening on tls:\/\/(\S+):(\d+)$/, 30_000);
      hubAddress = { host: h[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(h[2]) };
    }
    return { child, url: m[1]! };
  };

  let { child, url } = await launch('127.0.0.1:0');
  const keyAnswer = dispatcher
    ? await undiciFetch(`${url}/agent/signing-key`, { dispatcher }).then((r) => r.json())
    : await fetch(`${url}/agent/signing-key`).then((r) => r.json());
  const signingKey = (keyAnswer as { signingKey?: unknown }).signingKey;
  if (typeof signingKey !== 'string')
    throw new Error(`aspire: no signing key at /agent/signing-key: ${JSON.stringify(keyAnswer)}`);
  const handle: AspireHandle = {
    get url() {
      return url;
    },
    token,
    enrollSecret,
    signingKey,
    dataDir,
    configFile,
    get child() {
      return child;
    },
    get hubAddress() {
      return hubAddress;
    },
    async api(method, path, body, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      const tok = o.token === undefined ? token : o.token;
      if (tok !== null) headers.authorization = `Bearer ${tok}`;
      let payload: string | undefined;
      if (body !== undefined) {
        headers['content-type'] ??= 'application/json';
        payload = typeof body === 'string' ? body : JSON.stringify(body);
      }
      const init = { method, headers, ...(payload !== undefined ? { body: payload } : {}) };
      const res = dispatcher
        ? await undiciFetch(`${url}${path}`, { ...init, dispatcher })
        : await fetch(`${url}${path}`, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON: the test sees the text */
      }
      return { status: res.status, body: parsed, headers: Object.fromEntries(res.headers.entries()) };
    },
    async createToken(name, flags = []) {
      const r = await run(bin.cmd, [...bin.args, 'token', 'create', '--data-dir', dataDir, '--name', name, ...flags], {
        env: opts.env ?? process.env,
      });
      return r.stdout.trim();
    },
    async revokeToken(name) {
      await run(bin.cmd, [...bin.args, 'token', 'revoke', '--data-dir', dataDir, '--name', name], {
        env: opts.env ?? process.env,
      });
    },
    async restart() {
      const port = new URL(url).port;
      await child.stop(10_000);
      ({ child, url } = await launch(`127.0.0.1:${port}`));
    },
    async stop() {
      runningSigningKeys.delete(handle);
      liveServers.delete(handle);
      await child.stop(10_000);
      if (removeOnStop) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  liveServers.add(handle);
  runningSigningKeys.set(handle, signingKey);
  return handle;
}
