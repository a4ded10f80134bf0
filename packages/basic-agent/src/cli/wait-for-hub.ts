/**
 * A packaged BasicAgent whose basic.json names no hub yet (`serverHost` empty) waits instead of
 * crash-looping under systemd: one log line per backoff, basic.json read again each time, until
 * it names a hub (docs/install.md). A config that stops checking meanwhile is one line too.
 */
import { Backoff, ConfigError, type Clock, type Logger } from '@aspire/agent-core';
import { loadConfig, type BasicConfig } from '../config.ts';

export async function waitForHubAddress(
  path: string,
  first: Readonly<BasicConfig>,
  d: { clock: Clock; logger: Logger; signal: AbortSignal },
): Promise<Readonly<BasicConfig> | undefined> {
  let config = first;
  const backoff = new Backoff({ baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs });
  while (!config.serverHost) {
    if (d.signal.aborted) return undefined;
    const delay = backoff.next();
    d.logger.warn({ retryInMs: delay, config: path }, `no hub address yet: set "serverHost" in ${path}; waiting`);
    try {
      await d.clock.sleep(delay, d.signal);
    } catch {
      return undefined;
    }
    try {
      config = loadConfig(path);
    } catch (err) {
      d.logger.error(
        { problem: err instanceof ConfigError ? err.message : (err as Error).message },
        `${path} does not check; still waiting`,
      );
    }
  }
  d.logger.info({ server: `${config.serverHost}:${config.serverPort}` }, 'hub address configured');
  return config;
}
