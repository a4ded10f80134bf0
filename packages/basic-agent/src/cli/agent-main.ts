/**
 * `BasicAgent` (docs/basic-agent.md): flags, config and host policy check, then the agent. The
 * start-up and shut-down path (exit codes, daemonizing, pidfile, signals, crash handling) is
 * agent-core's daemon runner, shared with `boot` (docs/cli.md "The daemons").
 */
import { resolve } from 'node:path';
import { ConfigError, EXIT_CODES, VERSION, loadHostPolicy, realClock, type HostPolicy } from '@aspire/agent-core';
import { daemonProgram, parseDaemonArgs, type DaemonFlags } from '@aspire/agent-core/daemon-cli';
import { runDaemon, type DaemonContext, type DaemonOutcome } from '@aspire/agent-core/daemon-runner';
import { createBasicAgent } from '../agent/basic-agent.ts';
import { CONFIG_DEFAULT_PATH, loadConfig, type BasicConfig } from '../config.ts';
import { waitForHubAddress } from './wait-for-hub.ts';

interface Loaded {
  config: Readonly<BasicConfig>;
  policy: Readonly<HostPolicy>;
}

function program() {
  return daemonProgram(
    'BasicAgent',
    'Aspire BasicAgent: the TLS command channel (sync.bash, getinfo.*) and periodic tasks',
    {
      log: 'log to this file (SIGHUP reopens it); default stderr',
      pidfile: 'take this pidfile as a lock (a second instance exits 3)',
      config: `config file (default ${CONFIG_DEFAULT_PATH})`,
      test: 'check the config and exit (2 naming each problem, or when no hub address is set)',
    },
  ).addHelpText(
    'after',
    `
Examples:
  BasicAgent -T -c /etc/basicagent/basic.json                 check the config (exit 2 naming each problem)
  BasicAgent -f -c ./basic.json -L ./basic.log -P ./basic.pid  in the foreground, as systemd runs it

Without serverHost in the config the agent waits (one log line per backoff) until it is set.
Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 already running (pidfile held).`,
  );
}

/** basic.json and the host policy it names; a bad policy file is a config error (exit 2) naming it. */
function load(path: string): Loaded {
  const config = loadConfig(path);
  try {
    return { config, policy: loadHostPolicy(config.policy) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(
      err.source,
      err.problems.map((p) => `host policy: ${p}`),
    );
  }
}

export async function agentMain(args: string[]): Promise<number> {
  const parsed = parseDaemonArgs<DaemonFlags>(program(), args);
  if (parsed.kind === 'exit') return parsed.code;
  const f = parsed.flags;
  const configPath = f.config ?? CONFIG_DEFAULT_PATH;
  return runDaemon<Loaded>({
    name: 'BasicAgent',
    foreground: f.foreground === true,
    test: f.test === true,
    load: () => load(configPath),
    report: ({ config, policy }) => {
      if (!config.serverHost && !f.allowNoServer) {
        process.stderr.write(
          `BasicAgent: no hub address: "serverHost" is empty in ${configPath}; set it to the aspire server's command hub (host name or address)\n`,
        );
        return EXIT_CODES.USAGE;
      }
      process.stdout.write(`BasicAgent: config ${configPath} is valid (host policy: ${policy.source})\n`);
      return EXIT_CODES.OK;
    },
    childArgs: () => {
      const childArgs = ['-c', resolve(configPath)];
      if (f.log) childArgs.push('-L', resolve(f.log));
      if (f.pidfile) childArgs.push('-P', resolve(f.pidfile));
      return childArgs;
    },
    logFile: f.log,
    logLevel: ({ config }) => config.logLevel,
    pidfile: f.pidfile,
    run: (ctx) => runAgent(ctx, configPath),
  });
}

async function runAgent(ctx: DaemonContext<Loaded>, configPath: string): Promise<DaemonOutcome> {
  const { log: logger, signal } = ctx;
  const { policy } = ctx.loaded;
  let config = ctx.loaded.config;
  if (!config.serverHost) {
    // Packaged, before the hub is configured: wait quietly (no crash loop under systemd).
    process.stdout.write(`BasicAgent: running pid ${process.pid} (waiting for serverHost)\n`);
    const ready = await waitForHubAddress(configPath, config, { clock: realClock, logger, signal });
    if (!ready) return { code: EXIT_CODES.OK };
    config = ready;
  }
  const agent = createBasicAgent({ config, clock: realClock, logger, policy });
  ctx.onHangup(() => agent.reload());
  logger.info(
    { version: VERSION, server: `${config.serverHost}:${config.serverPort}`, policy: policy.source },
    'BasicAgent started',
  );
  // A line on stdout tells a supervisor or a test that the agent is up.
  process.stdout.write(`BasicAgent: running pid ${process.pid}\n`);
  await agent.run(signal);
  return { code: EXIT_CODES.OK };
}
