import { resolve } from 'node:path';
import {
  ConfigError,
  EXIT_CODES,
  PidfileLockedError,
  VERSION,
  acquirePidfile,
  createRootLogger,
  daemonize,
  loadHostPolicy,
  notifyParent,
  realClock,
  versionLine,
} from '@aspire/agent-core';
import { createBasicAgent } from '../agent/basic-agent.ts';
import { CONFIG_DEFAULT_PATH, loadConfig } from '../config.ts';
import { waitForHubAddress } from './wait-for-hub.ts';

const USAGE = `Usage: BasicAgent [-f] [-L logfile] [-P pidfile] [-c config] [-T [--allow-no-server]]

BasicAgent: the TLS command channel (sync.bash, getinfo.*) and periodic tasks.
  -f                 stay in the foreground (systemd and BootAgent run it so)
  -L logfile         log to this file (SIGHUP reopens it); default stderr
  -P pidfile         take this pidfile as a lock (a second instance exits 3)
  -c config          config file (default ${CONFIG_DEFAULT_PATH})
  -T                 check the config and exit (2 naming each problem, or when no hub address is set)
  --allow-no-server  with -T: an empty serverHost is valid (the agent then waits for one)
  -h, --help         this text
  -V, --version      print NAME VERSION (node VERSION, ARCH)

Examples:
  BasicAgent -T -c /etc/basicagent/basic.json
  BasicAgent -f -c ./basic.json -L ./basic.log -P ./basic.pid

Without serverHost in the config the agent waits (one log line per backoff) until it is set.
Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 already running (pidfile held).
`;

interface Flags {
  foreground: boolean;
  log?: string;
  pidfile?: string;
  config: string;
  check: boolean;
  allowNoServer: boolean;
}

function parseFlags(args: string[]): Flags | { exit: number; out?: string; err?: string } {
  const f: Flags = { foreground: false, config: CONFIG_DEFAULT_PATH, check: false, allowNoServer: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined || v.startsWith('-')) throw new Error(`${a} needs a value`);
      return v;
    };
    try {
      if (a === '--help' || a === '-h') return { exit: 0, out: USAGE };
      if (a === '--version' || a === '-V') return { exit: 0, out: `${versionLine('BasicAgent')}\n` };
      if (a === '-f') f.foreground = true;
      else if (a === '-T') f.check = true;
      else if (a === '--allow-no-server') f.allowNoServer = true;
      else if (a === '-L') f.log = value();
      else if (a === '-P') f.pidfile = value();
      else if (a === '-c') f.config = value();
      else return { exit: EXIT_CODES.USAGE, err: `BasicAgent: unknown option ${JSON.stringify(a)}\n${USAGE}` };
    } catch (err) {
      return { exit: EXIT_CODES.USAGE, err: `BasicAgent: ${(err as Error).message}\n${USAGE}` };
    }
  }
  return f;
}

export async function agentMain(args: string[]): Promise<number> {
  const f = parseFlags(args);
  if ('exit' in f) {
    if (f.out) process.stdout.write(f.out);
    if (f.err) process.stderr.write(f.err);
    return f.exit;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(f.config);
  } catch (err) {
    const msg = err instanceof ConfigError ? err.message : (err as Error).message;
    process.stderr.write(`BasicAgent: ${msg}\n`);
    notifyParent({ ok: false, error: msg, exitCode: EXIT_CODES.USAGE });
    return EXIT_CODES.USAGE;
  }
  // The host policy file: one that does not parse, has a bad key or a wrong owner stops the
  // agent with exit 2 (configuration error), naming the file and the line or key.
  let policy: ReturnType<typeof loadHostPolicy>;
  try {
    policy = loadHostPolicy(config.policy);
  } catch (err) {
    const msg = err instanceof ConfigError ? `host policy: ${err.message}` : (err as Error).message;
    process.stderr.write(`BasicAgent: ${msg}\n`);
    notifyParent({ ok: false, error: msg, exitCode: EXIT_CODES.USAGE });
    return EXIT_CODES.USAGE;
  }
  if (f.check) {
    if (!config.serverHost && !f.allowNoServer) {
      process.stderr.write(
        `BasicAgent: no hub address: "serverHost" is empty in ${f.config}; set it to the aspire server's command hub (host name or address)\n`,
      );
      return EXIT_CODES.USAGE;
    }
    process.stdout.write(`BasicAgent: config ${f.config} is valid (host policy: ${policy.source})\n`);
    return 0;
  }
  if (!f.foreground) {
    // The daemon runs in /: hand it absolute paths.
    const childArgs = ['-c', resolve(f.config)];
    if (f.log) childArgs.push('-L', resolve(f.log));
    if (f.pidfile) childArgs.push('-P', resolve(f.pidfile));
    return daemonize('BasicAgent', childArgs);
  }
  let release: (() => void) | undefined;
  if (f.pidfile) {
    try {
      release = acquirePidfile(f.pidfile);
    } catch (err) {
      const msg = err instanceof PidfileLockedError ? err.message : (err as Error).message;
      const code = err instanceof PidfileLockedError ? EXIT_CODES.RUNNING : EXIT_CODES.FAILURE;
      process.stderr.write(`BasicAgent: ${msg}\n`);
      notifyParent({ ok: false, error: msg, exitCode: code });
      return code;
    }
  }
  notifyParent({ ok: true, pid: process.pid });
  const root = createRootLogger({ name: 'BasicAgent', ...(f.log ? { file: f.log } : {}), level: config.logLevel });
  const logger = root.logger;
  const stop = new AbortController();
  if (!config.serverHost) {
    // Packaged, before the hub is configured: wait quietly (no crash loop under systemd).
    const onEarlyStop = () => stop.abort();
    // logrotate's SIGHUP must not end the wait (its default action would).
    const onEarlyHup = () => root.reopen();
    process.once('SIGTERM', onEarlyStop);
    process.once('SIGINT', onEarlyStop);
    process.on('SIGHUP', onEarlyHup);
    process.stdout.write(`BasicAgent: running pid ${process.pid} (waiting for serverHost)\n`);
    const keepWaiting = setInterval(() => {}, 1 << 30);
    const ready = await waitForHubAddress(f.config, config, { clock: realClock, logger, signal: stop.signal });
    clearInterval(keepWaiting);
    process.off('SIGTERM', onEarlyStop);
    process.off('SIGINT', onEarlyStop);
    process.off('SIGHUP', onEarlyHup);
    if (!ready) {
      logger.info('stopped');
      root.flush();
      release?.();
      return EXIT_CODES.OK;
    }
    config = ready;
  }
  let agent: ReturnType<typeof createBasicAgent>;
  try {
    agent = createBasicAgent({ config, clock: realClock, logger, policy });
  } catch (err) {
    process.stderr.write(`BasicAgent: ${(err as Error).message}\n`);
    release?.();
    return 1;
  }
  const onStop = (sig: string) => {
    logger.info({ signal: sig }, 'stopping');
    stop.abort(new Error(sig));
  };
  process.on('SIGTERM', () => onStop('SIGTERM'));
  process.on('SIGINT', () => onStop('SIGINT'));
  process.on('SIGHUP', () => {
    root.reopen();
    agent.reload();
  });
  logger.info(
    { version: VERSION, server: `${config.serverHost}:${config.serverPort}`, policy: policy.source },
    'BasicAgent started',
  );
  // A line on stdout tells a supervisor or a test that the agent is up.
  process.stdout.write(`BasicAgent: running pid ${process.pid}\n`);
  // Every agent timer is unref'd (Clock contract); this handle keeps the daemon alive while it
  // waits out a backoff with no socket open.
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    await agent.run(stop.signal);
  } finally {
    clearInterval(keepAlive);
    logger.info('stopped');
    root.flush();
    release?.();
  }
  return 0;
}
