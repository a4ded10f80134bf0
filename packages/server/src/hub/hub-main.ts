/**
 * The hub's part of `aspire serve`: its flags go over the config file's `hub` object
 * (hubFlagsOver), the server config check checks the result (hub-options.ts), and a CommandHub
 * comes out (or none when no listen address is set). main.ts calls hubFromSettings before
 * buildServer (the Polaris routes go into operatorPlugins) and starts/stops the hub around the
 * HTTP listener.
 */
import type { Command } from 'commander';
import type { Clock } from '@aspire/agent-core';
import type { Logger } from 'pino';
import type { Signer } from '@aspire/protocol';
import { createCommandHub, type CommandHub } from './command-hub.ts';
import { checkHubOptions, type HubSettings } from './hub-options.ts';
import type { Store } from '../store/store.ts';
import type { Cluster } from '../cluster/cluster.ts';

export interface HubFlags {
  hubListen?: string;
  hubCert?: string;
  hubKey?: string;
  hubRedirect?: string;
  hubRedirectOver?: string;
  hubIdleTimeoutMs?: string;
  hubHandshakeTimeoutMs?: string;
}

/** Add the hub's flags to the `serve` command. */
export function addHubFlags(cmd: Command): Command {
  return cmd
    .option(
      '--hub-listen <host:port>',
      'start the BasicAgent command hub (TLS) on this address (port 0: any free port)',
    )
    .option('--hub-cert <file>', 'PEM certificate (chain) the agents verify against their CA')
    .option('--hub-key <file>', 'PEM private key of --hub-cert')
    .option('--hub-redirect <servers>', 'redirect connecting agents to these servers ("ip1,ip2:port")')
    .option('--hub-redirect-over <n>', 'with --hub-redirect: redirect only beyond n connected agents (default 0: all)')
    .option('--hub-idle-timeout-ms <ms>', 'close an agent connection silent for this long (default 120000)')
    .option(
      '--hub-handshake-timeout-ms <ms>',
      'close a connection that has not finished the TLS handshake, or then sent init, within this (default 10000)',
    );
}

/**
 * The server config's raw `hub` object with the flags given put over it (flags win, as for the
 * server's own keys): the config check then checks them together.
 */
export function hubFlagsOver(rawHub: unknown, flags: HubFlags): unknown {
  const over: Record<string, unknown> = {};
  if (flags.hubListen !== undefined) over.listen = flags.hubListen;
  if (flags.hubCert !== undefined) over.cert = flags.hubCert;
  if (flags.hubKey !== undefined) over.key = flags.hubKey;
  if (flags.hubRedirect !== undefined) over.redirect = flags.hubRedirect;
  if (flags.hubRedirectOver !== undefined) over.redirectOver = Number(flags.hubRedirectOver);
  if (flags.hubIdleTimeoutMs !== undefined) over.idleTimeoutMs = Number(flags.hubIdleTimeoutMs);
  if (flags.hubHandshakeTimeoutMs !== undefined) over.handshakeTimeoutMs = Number(flags.hubHandshakeTimeoutMs);
  if (Object.keys(over).length === 0) return rawHub;
  // A `hub` that is not an object stays as it is: the config check names it.
  if (rawHub !== undefined && (rawHub === null || typeof rawHub !== 'object' || Array.isArray(rawHub))) return rawHub;
  return { ...(rawHub as Record<string, unknown> | undefined), ...over };
}

/** The hub keeps task results in the server's store (one database per server), `keepResults` per host and task. */
export function hubFromSettings(
  settings: HubSettings | undefined,
  deps: {
    clock: Clock;
    logger: Logger;
    store: Pick<Store, 'addTaskResult' | 'listTaskResults' | 'hostIdentity' | 'addServerEvent'>;
    keepResults: number;
    signer: Signer;
    /** PEM of the host CA (and the previous one during a rotation): agents' client certificates must chain to it. */
    hostCaCerts: string[];
    /** Several nodes on PostgreSQL (docs/scale.md); absent on SQLite. */
    cluster?: Cluster;
  },
): CommandHub | undefined {
  if (!settings?.listen) return undefined;
  const options = checkHubOptions({ ...settings }, 'hub');
  return createCommandHub({
    options,
    clock: deps.clock,
    logger: deps.logger,
    store: deps.store,
    keepResults: deps.keepResults,
    signer: deps.signer,
    hostCaCerts: deps.hostCaCerts,
    ...(deps.cluster ? { cluster: deps.cluster } : {}),
  });
}

/** The setting a listen failure of the hub names: the flag when it was given, else also the config key. */
export function hubListenSetting(flags: HubFlags): string {
  return flags.hubListen !== undefined ? '--hub-listen HOST:PORT' : '--hub-listen HOST:PORT (config key "hub.listen")';
}

/** The line tests and operators wait for. */
export function hubListeningLine(a: { host: string; port: number }): string {
  const shown = a.host.includes(':') ? `[${a.host}]` : a.host;
  return `aspire: hub listening on tls://${shown}:${a.port}\n`;
}
