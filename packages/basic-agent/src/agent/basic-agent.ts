import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ALLOW_ALL_POLICY, VERSION, readJsonFile, type Clock, type HostPolicy, type Logger } from '@aspire/agent-core';
import { ChannelClient } from '../channel/channel-client.ts';
import type { BasicConfig } from '../config.ts';
import { PeriodicTasks } from '../cron/periodic-tasks.ts';
import { Limiter } from '../exec/limiter.ts';
import { RunningCommands } from '../exec/running-commands.ts';
import { FrameVerifier } from './frame-verifier.ts';
import { OperatorNonceCache } from './operator-nonce-cache.ts';
import { handleRequest } from './request-handler.ts';

export interface BasicAgentDeps {
  config: Readonly<BasicConfig>;
  clock: Clock;
  logger: Logger;
  /** The host policy, loaded at the edge (main); default allow all. */
  policy?: Readonly<HostPolicy>;
}

export interface BasicAgent {
  /** Runs until the signal aborts; running commands are killed then. */
  run(signal: AbortSignal): Promise<void>;
  /** SIGHUP: re-read the crontab. */
  reload(): void;
}

/** Wires channel, command executor and periodic tasks (main.ts only parses flags). */
export function createBasicAgent(deps: BasicAgentDeps): BasicAgent {
  const { config, clock, logger } = deps;
  const policy = deps.policy ?? ALLOW_ALL_POLICY;
  const agentsn = () => config.agentsn ?? bootAgentsn(config.bootMetafile);
  const ca = readFileSync(config.ca, 'utf8');
  const limiter = new Limiter(config.concurrency, config.queueMax);
  const hostname = config.hostname ?? os.hostname();
  // Frames are signed for what init sent: the agentsn when known, else the hostname.
  const verifier = new FrameVerifier({
    keysFile: config.serverPublicKey,
    identity: () => config.agentsn ?? bootAgentsn(config.bootMetafile) ?? hostname,
    clock,
    logger: logger.child({ component: 'verify' }),
  });
  // Operator signatures accepted here, by nonce: each runs once (policy-gate.ts).
  const nonces = new OperatorNonceCache();
  const kill = { intervalMs: config.killIntervalMs, terms: 3 };
  const stop = new AbortController();
  const running = new RunningCommands();
  let client: ChannelClient | undefined;
  const tasks = new PeriodicTasks({
    clock,
    logger: logger.child({ component: 'cron' }),
    crontabPath: config.crontab,
    crontabCheckSec: config.crontabCheckSec,
    storePath: join(config.stateDir, 'tasks.json'),
    timezone: config.timezone,
    taskTimeoutSec: config.taskTimeoutSec,
    kill,
    policy,
    onResult: (r) => client?.sendResult(r),
  });
  client = new ChannelClient(
    {
      serverHost: config.serverHost,
      serverPort: config.serverPort,
      ca,
      hostname: config.hostname ?? os.hostname(),
      agentsn,
      clientIdentity: () => clientIdentity(config, logger),
      version: VERSION,
      heartbeatMs: config.heartbeatSec * 1000,
      connectTimeoutMs: config.connectTimeoutSec * 1000,
      backoffBaseMs: config.backoffBaseMs,
      backoffMaxMs: config.backoffMaxMs,
      resultQueueMax: config.resultQueueMax,
    },
    {
      clock,
      logger: logger.child({ component: 'channel' }),
      handle: (frame) =>
        handleRequest(frame, {
          clock,
          logger,
          limiter,
          tasks,
          kill,
          signal: stop.signal,
          running,
          verify: (f) => verifier.check(f),
          policy: { policy, clock, logger, agentsn, nonces },
        }),
    },
  );
  return {
    async run(signal) {
      tasks.start();
      const onAbort = () => stop.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        await client.run(signal);
      } finally {
        tasks.stop();
        stop.abort();
      }
    },
    reload() {
      const errors = tasks.reloadCrontab();
      logger.info({ invalid: errors.length }, 'crontab reloaded');
    },
  };
}

/** The AgentSN BootAgent registered (its metafile's `agentsn`; nothing else is read). */
export function bootAgentsn(metafile: string): string | undefined {
  if (!metafile) return undefined;
  const r = readJsonFile<{ agentsn?: unknown }>(metafile);
  if (r.kind !== 'ok') return undefined;
  const sn = r.value?.agentsn;
  return typeof sn === 'string' && sn.length > 0 && sn.length <= 64 ? sn : undefined;
}

/**
 * The client certificate and key the hub requires (the BootAgent's identity files by default),
 * read at each connection attempt so a renewal takes effect; missing files: none (logged, and the
 * hub will refuse the connection until the BootAgent has registered).
 */
function clientIdentity(config: Readonly<BasicConfig>, logger: Logger): { cert: string; key: string } | undefined {
  if (!config.tlsClientCert || !config.tlsClientKey) return undefined;
  try {
    return { cert: readFileSync(config.tlsClientCert, 'utf8'), key: readFileSync(config.tlsClientKey, 'utf8') };
  } catch (err) {
    logger.warn(
      { cert: config.tlsClientCert, key: config.tlsClientKey, err: (err as Error).message },
      'channel: no client certificate to present (the BootAgent has not registered yet?)',
    );
    return undefined;
  }
}
