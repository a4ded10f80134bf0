import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary } from './binaries.ts';
import { runningAspireServers } from './aspire-server.ts';
import { Child } from './child.ts';
import { runningServerSigningKeys } from './aspire-server.ts';
import { enrollHost, metafileAgentsn } from './host-identity.ts';

export interface BasicAgentHandle {
  child: Child;
  dir: string;
  configFile: string;
  crontabFile: string;
  stateDir: string;
  hostname: string;
  stop(): Promise<void>;
}

export interface StartBasicAgentOptions {
  /** The hub's port; the agent connects to serverHost (default localhost) on it. */
  port: number;
  caFile: string;
  hostname: string;
  serverHost?: string;
  agentsn?: string;
  crontab?: string;
  /** Extra basic.json keys (docs/basic-agent.md), over quick test defaults. */
  config?: Record<string, unknown>;
  dir?: string;
  /**
   * Server signing keys (base64 SPKI) the agent pins, as the BootAgent's `identity/server-signing.pub`
   * would hold them. Default: the keys of every test server running in this process.
   */
  signingKeys?: string[];
  /**
   * The client certificate and key to present to the hub. Default: the host is enrolled (as a
   * BootAgent would: /agent/register with a CSR) on every test server running in this process,
   * under `agentsn` (or the bootMetafile's, or a fresh one) and `hostname`. `null`: none.
   */
  identity?: { certFile: string; keyFile: string } | null;
  /** Wait for "channel: connected" (default true). */
  waitConnected?: boolean;
}

/**
 * Start a real BasicAgent (the built bundle or the single executable) in the foreground with
 * its config, crontab and state in a temp dir, and wait until it is connected to the hub.
 */
export async function startBasicAgent(opts: StartBasicAgentOptions): Promise<BasicAgentHandle> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'aspire-basic-'));
  const configFile = join(dir, 'basic.json');
  const crontabFile = join(dir, 'crontab');
  const stateDir = join(dir, 'state');
  writeFileSync(crontabFile, opts.crontab ?? '');
  const pinFile = join(dir, 'server-signing.pub');
  writeFileSync(pinFile, `${(opts.signingKeys ?? runningServerSigningKeys()).join('\n')}\n`);
  const servers = runningAspireServers();
  const sn = opts.agentsn ?? metafileAgentsn(opts.config?.bootMetafile as string | undefined);
  const identity =
    opts.identity !== undefined
      ? opts.identity
      : servers.length > 0
        ? await enrollHost(servers, { hostname: opts.hostname, dir, ...(sn ? { agentsn: sn } : {}) })
        : null;
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        serverHost: opts.serverHost ?? 'localhost',
        serverPort: opts.port,
        ca: opts.caFile,
        hostname: opts.hostname,
        ...(opts.agentsn ? { agentsn: opts.agentsn } : {}),
        // The agentsn the certificate names, as a BootAgent's metafile would give it.
        ...(!sn && identity && 'agentsn' in identity ? { agentsn: identity.agentsn } : {}),
        crontab: crontabFile,
        stateDir,
        heartbeatSec: 2,
        connectTimeoutSec: 5,
        backoffBaseMs: 100,
        backoffMaxMs: 1000,
        killIntervalMs: 300,
        timezone: 'UTC',
        logLevel: 'info',
        // Never the host's real BootAgent state.
        bootMetafile: '',
        serverPublicKey: pinFile,
        tlsClientCert: identity?.certFile ?? '',
        tlsClientKey: identity?.keyFile ?? '',
        ...opts.config,
      },
      null,
      2,
    ),
  );
  const bin = binary('BasicAgent');
  const child = new Child(bin.cmd, [...bin.args, '-f', '-c', configFile, '-P', join(dir, 'basic.pid')]);
  if (opts.waitConnected !== false)
    await Promise.race([
      child.waitForLine(/channel: connected/, 30_000),
      child.exited.then((e) => {
        throw new Error(`BasicAgent exited (${e.code ?? e.signal}) before connecting:\n${child.output.slice(-4000)}`);
      }),
    ]);
  return {
    child,
    dir,
    configFile,
    crontabFile,
    stateDir,
    hostname: opts.hostname,
    async stop() {
      await child.stop(10_000);
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
