/**
 * `aspire`: the Aspire server binary. Only flags, config, logger and signals live here; the
 * server itself is buildServer() in app.ts.
 *
 *   aspire serve --listen 127.0.0.1:8180 --data-dir DIR [--config FILE] [--log-level L] [--log-file F]
 *   aspire token create --data-dir DIR --name NAME [--role R --tags --regions --agentsn --commands --users --groups --sources --allow --cidrs]
 *   aspire token list --data-dir DIR | aspire token revoke --data-dir DIR --name NAME   (token-cli.ts)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { Command, CommanderError } from 'commander';
import type { Logger } from 'pino';
import {
  acquirePidfile,
  ConfigError,
  createRootLogger,
  EXIT_CODES,
  PidfileLockedError,
  readConfigObject,
  realClock,
  VERSION,
  versionLine,
} from '@aspire/agent-core';
import { buildServer } from './app.ts';
import { becomeDataDirOwner } from './data-dir-owner.ts';
import { ServerMetrics } from './metrics/server-metrics.ts';
import { addTokenCommands, DB_FILE } from './token-cli.ts';
import { addClientCommands } from './cli/index.ts';
import { checkConfig, parseListen, type ServerConfig } from './config.ts';
import { listenFailure, startupFailureLine } from './startup-failure.ts';
import { openStore, withStoreEnv, type OpenedStore, type StoreEnv } from './store/open-store.ts';
import { addMigrateCommand } from './store/postgres/migrate-cli.ts';
import { loadOrCreateHostCa } from './trust/host-ca.ts';
import {
  addHubFlags,
  hubFlagsOver,
  hubFromSettings,
  hubListenSetting,
  hubListeningLine,
  polarisRoutes,
  type CommandHub,
  type HubFlags,
} from './hub/index.ts';
import { loadServerSigning } from './trust/signing-key.ts';
import { CLUSTER_BOUNDS, clusterRoutes, createCluster, derivedNodeId, type Cluster } from './cluster/index.ts';

export { DB_FILE };

interface ServeFlags extends HubFlags {
  listen?: string;
  dataDir?: string;
  config?: string;
  logLevel?: string;
  logFile?: string;
  /** Alias of logFile (`--log`). */
  log?: string;
}

/**
 * What a start that fails must undo (last taken, first undone) so nothing is left behind: the
 * pidfile lock, the store, the hub. Emptied once the server listens.
 */
const starting: { dataDir?: string; undo: (() => unknown)[] } = { undo: [] };

async function undoStart(): Promise<void> {
  for (const undo of starting.undo.splice(0).reverse()) {
    try {
      await undo();
    } catch {
      /* undo what else can be undone */
    }
  }
}

async function serve(flags: ServeFlags): Promise<void> {
  // ASPIRE_DATABASE_URL selects PostgreSQL over the file's `store` (docs/scale.md).
  const storeEnv: StoreEnv = {
    ASPIRE_DATABASE_URL: process.env.ASPIRE_DATABASE_URL,
    ASPIRE_DATABASE_PASSWORD: process.env.ASPIRE_DATABASE_PASSWORD,
  };
  const { config, notes } = checkConfig(rawConfig(flags, storeEnv), flags.config ?? 'flags');
  starting.dataDir = config.dataDir;
  const root = createRootLogger({ name: 'aspire', file: config.logFile, level: config.logLevel });
  // Open before anything can fail: pino flushes the file at exit and throws if it is not open.
  await root.ready();
  starting.undo.push(() => root.flush());
  const logger = root.logger;
  for (const n of notes) logger.warn(n);
  if (config.enrollSecret === undefined)
    logger.warn('no enrollSecret configured: any host that reaches this server can register');

  // One server per data dir: its caches (quiet-push fingerprints, tag tasks) assume it is the
  // only writer. `token create/list/revoke` only touch the tokens table and need no lock.
  const releaseLock = acquirePidfile(join(config.dataDir, 'aspire.pid'));
  starting.undo.push(releaseLock);
  const opened = await openStore(config, storeEnv);
  const store = opened.store;
  starting.undo.push(() => store.close());
  logger.info({ store: opened.describe }, 'store opened');
  // ---- Command hub (BasicAgent channel, design.md §4; packages/server/src/hub/) -----------------
  // Created before buildServer so its Polaris routes go into operatorPlugins; started after
  // the store is open, stopped in `shutdown` before the store closes. Its task results go into
  // the same store (one database per server).
  const { signing, hostCa, hostCaCerts } = await loadTrust(config, logger);
  const cluster = clusterFor(config, opened, logger);
  if (cluster) starting.undo.push(() => cluster.stop());
  const hub = hubFromSettings(config.hub, {
    clock: realClock,
    logger,
    store,
    keepResults: config.taskResultsKeep,
    signer: signing.signer,
    hostCaCerts,
    ...(cluster ? { cluster } : {}),
  });
  const https =
    config.tlsCert && config.tlsKey
      ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) }
      : undefined;
  // One metrics registry for the REST side and the hub (GET /metrics, docs/metrics.md).
  const metrics = new ServerMetrics(realClock);
  if (hub) metrics.hubFrom(() => hub.registry.size);
  const server = await buildServer({
    store,
    clock: realClock,
    logger,
    config,
    version: VERSION,
    signing,
    hostCa,
    ...(https ? { https } : {}),
    // Periodic work (scheduler tick, offline sweep, retention) is claimed once per period across the
    // nodes only when they share the store; nodes on their own SQLite (cluster.url alone) each run theirs.
    ...(cluster && opened.postgres
      ? { sweepGate: (name: string, periodMs: number) => cluster.claimSweep(name, periodMs) }
      : {}),
    metrics,
    ...(hub ? { closeHostChannel: (agentsn: string, reason: string) => hub.closeHost(agentsn, reason) } : {}),
    ...(hub
      ? {
          operatorPlugins: [
            ...(cluster ? [clusterRoutes(cluster)] : []),
            polarisRoutes(hub, { timeFanOut: (run) => metrics.timeFanOut(run) }),
          ],
        }
      : {}),
  });
  starting.undo.push(
    () => server.app.close(),
    () => hub?.stop(),
  );
  const hubAddress = hub ? await startHub(hub, config, flags) : undefined;
  if (cluster) await cluster.start(clusterNode(config, hubAddress), hub?.registry);
  if (hubAddress) process.stdout.write(hubListeningLine(hubAddress));
  // -------------------------------------------------------------------------------------------

  const { host, port } = parseListen(config.listen)!;
  const address = await server.app
    .listen({ host, port })
    .catch((err: unknown) =>
      Promise.reject(listenFailure(err, config.listen, '--listen HOST:PORT (config key "listen")')),
    );
  starting.undo.length = 0;
  server.start();
  const url = new URL(address);
  const shown = host.includes(':') ? `[${host}]` : host;
  const scheme = https ? 'https' : 'http';
  process.stdout.write(`aspire: listening on ${scheme}://${shown}:${url.port}\n`);
  logger.info({ listen: `${shown}:${url.port}`, dataDir: config.dataDir, version: VERSION }, 'aspire server started');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    await hub?.stop();
    await cluster?.stop();
    await server.stop();
    await store.close();
    releaseLock();
    root.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => root.reopen());
}

/** The config file's object with the flags over it (and the hub's and the store's settings merged in). */
function rawConfig(flags: ServeFlags, storeEnv: StoreEnv): Record<string, unknown> {
  const raw: Record<string, unknown> = flags.config ? readConfigObject(flags.config) : {};
  if (flags.listen !== undefined) raw.listen = flags.listen;
  if (flags.dataDir !== undefined) raw.dataDir = flags.dataDir;
  if (flags.logLevel !== undefined) raw.logLevel = flags.logLevel;
  if ((flags.logFile ?? flags.log) !== undefined) raw.logFile = flags.logFile ?? flags.log;
  const rawHub = hubFlagsOver(raw.hub, flags);
  if (rawHub !== undefined) raw.hub = rawHub;
  const rawStore = withStoreEnv(raw.store, storeEnv);
  if (rawStore !== undefined) raw.store = rawStore;
  return raw;
}

/** The signing key and the host CA, both logged (never their secrets). */
async function loadTrust(config: ServerConfig, logger: Logger) {
  // One signing key for status-reply jobs and hub frames (docs/security.md).
  const signing = loadServerSigning({
    dataDir: config.dataDir,
    ...(config.signingKeys ? { signingKeys: config.signingKeys } : {}),
  });
  logger.info(
    { kid: signing.signer.kid, rotatingTo: signing.announcement.nextSigningKey !== undefined },
    'signing key loaded',
  );
  // The host CA: issues hosts' client certificates; the hub accepts only those (docs/security.md "Host identity").
  const hostCa = await loadOrCreateHostCa(config, realClock.now());
  const hostCaCerts = [
    hostCa.certPem,
    ...(config.hostCaPreviousCert ? [readFileSync(config.hostCaPreviousCert, 'utf8')] : []),
  ];
  logger.info(
    {
      source: hostCa.source,
      previousTrusted: config.hostCaPreviousCert !== undefined,
      certLifetimeSec: config.hostCertLifetimeSec,
    },
    'host CA loaded',
  );
  return { signing, hostCa, hostCaCerts };
}

/**
 * Several nodes (docs/scale.md): only on PostgreSQL; on SQLite there is no cluster layer.
 * The store's own connection (its password from its file or the environment), or cluster.url.
 */
function clusterFor(config: ServerConfig, opened: OpenedStore, logger: Logger): Cluster | undefined {
  const clusterDb = config.cluster?.url ? { connectionString: config.cluster.url } : opened.postgres;
  return clusterDb
    ? createCluster({
        db: clusterDb,
        heartbeatMs: config.cluster?.heartbeatMs ?? CLUSTER_BOUNDS.heartbeatMs.default,
        redirectMargin: config.cluster?.redirectMargin ?? CLUSTER_BOUNDS.redirectMargin.default,
        clock: realClock,
        logger,
      })
    : undefined;
}

function startHub(hub: CommandHub, config: ServerConfig, flags: ServeFlags): Promise<{ host: string; port: number }> {
  return hub
    .start()
    .catch((err: unknown) => Promise.reject(listenFailure(err, config.hub?.listen ?? '', hubListenSetting(flags))));
}

/** The node id and the address other nodes redirect agents to: configured, else the hub's. */
function clusterNode(
  config: ServerConfig,
  hubAddress: { host: string; port: number } | undefined,
): { nodeId: string; advertise: string } {
  const shownHub =
    hubAddress &&
    (['0.0.0.0', '::'].includes(hubAddress.host)
      ? hostname()
      : hubAddress.host.includes(':')
        ? `[${hubAddress.host}]`
        : hubAddress.host);
  return {
    nodeId: config.cluster?.nodeId ?? derivedNodeId(hostname(), hubAddress?.port ?? process.pid),
    advertise: config.cluster?.advertise ?? (hubAddress ? `${shownHub}:${hubAddress.port}` : ''),
  };
}

export function program(): Command {
  const p = new Command('aspire')
    // Usage errors end in the catch below (exit 2), not in commander's own exit 1.
    .exitOverride()
    .version(versionLine('aspire'), '-V, --version')
    .description('Aspire management server (REST API, agent endpoints)')
    .addHelpText(
      'after',
      `
Examples:
  aspire serve --listen 127.0.0.1:8180 --data-dir /var/lib/aspire
  aspire serve -c /etc/aspire/aspire.json
  aspire token create --data-dir /var/lib/aspire --name alice --role operator --tags svc=web

Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 already running (aspire.pid held).`,
    );
  addHubFlags(p.command('serve'))
    .description('run the server')
    .option('--listen <host:port>', 'address to listen on (port 0: any free port)')
    .option('--data-dir <dir>', 'where the SQLite database and packages live')
    .option('-c, --config <file>', 'JSON config file (keys in docs/server.md)')
    .option('--log-level <level>', 'fatal error warn info debug trace silent')
    .option('--log-file <file>', 'log to this file instead of stderr')
    .option('--log <file>', 'same as --log-file')
    .action(serve);
  addTokenCommands(p);
  // Token commands run as root on the service's data dir act as its owner (data-dir-owner.ts).
  p.commands
    .find((c) => c.name() === 'token')
    ?.hook('preAction', (_token, action) => {
      const o = action.opts<{ dataDir?: string; config?: string }>();
      const dir = o.dataDir ?? (o.config ? (readConfigObject(o.config).dataDir as string | undefined) : undefined);
      if (typeof dir !== 'string') return;
      const s = becomeDataDirOwner(dir);
      if (s.kind === 'switched')
        process.stderr.write(
          `aspire: running as uid ${s.uid} gid ${s.gid}, the owner of ${dir}, so the service can still write what this creates\n`,
        );
    });
  // Operator CLI: client commands against a running server (docs/cli.md).
  addClientCommands(p);
  addMigrateCommand(p);
  return p;
}

program()
  .parseAsync(process.argv)
  .catch(async (err: unknown) => {
    await undoStart();
    if (err instanceof CommanderError) {
      // commander has printed the message (or the help / version) already.
      const done =
        err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
      process.exit(done ? EXIT_CODES.OK : EXIT_CODES.USAGE);
    }
    const line =
      err instanceof ConfigError || err instanceof PidfileLockedError
        ? err.message
        : startupFailureLine(err, starting.dataDir);
    process.stderr.write(`aspire: ${line ?? (err as Error).stack ?? String(err)}\n`);
    process.exit(
      err instanceof ConfigError
        ? EXIT_CODES.USAGE
        : err instanceof PidfileLockedError
          ? EXIT_CODES.RUNNING
          : EXIT_CODES.FAILURE,
    );
  });
