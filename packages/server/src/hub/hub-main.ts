/**
 * The hub's part of `aspire serve`: flags in, a CommandHub out (or none when --hub-listen is
 * not given). main.ts calls this before buildServer (the Polaris routes go into
 * operatorPlugins) and starts/stops the hub around the HTTP listener.
 */
import type { Command } from 'commander';
import type { Clock } from '@aspire/agent-core';
import type { Logger } from 'pino';
import type { Signer } from '@aspire/protocol';
import { createCommandHub, type CommandHub } from './command-hub.ts';
import { checkHubOptions } from './hub-options.ts';
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

/** The hub keeps task results in the server's store (one database per server), `keepResults` per host and task. */
export function hubFromFlags(
  flags: HubFlags,
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
  if (!flags.hubListen) return undefined;
  const raw: Record<string, unknown> = { listen: flags.hubListen, cert: flags.hubCert, key: flags.hubKey };
  if (flags.hubRedirect !== undefined) raw.redirect = flags.hubRedirect;
  if (flags.hubRedirectOver !== undefined) raw.redirectOver = Number(flags.hubRedirectOver);
  if (flags.hubIdleTimeoutMs !== undefined) raw.idleTimeoutMs = Number(flags.hubIdleTimeoutMs);
  if (flags.hubHandshakeTimeoutMs !== undefined) raw.handshakeTimeoutMs = Number(flags.hubHandshakeTimeoutMs);
  for (const k of Object.keys(raw)) if (raw[k] === undefined) delete raw[k];
  const options = checkHubOptions(raw, 'hub flags');
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

/** The line tests and operators wait for. */
export function hubListeningLine(a: { host: string; port: number }): string {
  const shown = a.host.includes(':') ? `[${a.host}]` : a.host;
  return `aspire: hub listening on tls://${shown}:${a.port}\n`;
}
