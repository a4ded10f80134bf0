/**
 * `boot` (seed 002 / DESIGN.md "BootAgent CLI"). This file only parses flags, loads and checks
 * the config, creates the root logger, takes the pidfile, wires signals, and hands over to
 * createBootAgent. Exit codes: 0 ok, 1 runtime failure, 2 bad config or flags, 3 pidfile held.
 */
import { Command } from 'commander';
import {
  BUILD_SERVER_ADDR,
  type EXIT_CODES,
  ConfigError,
  PidfileLockedError,
  VERSION,
  acquirePidfile,
  versionLine,
  createRootLogger,
  daemonize,
  loadHostPolicy,
  notifyParent,
  realClock,
  type HostPolicy,
} from '@aspire/agent-core';
import { createBootAgent } from './boot-agent.ts';
import { resolvePaths } from './cli/paths.ts';
import { loadBootConfig, type CheckedConfig } from './config/boot-config.ts';
import { checkServerList, serverUrls } from './net/server-list.ts';
import { readMeta } from './state/meta-store.ts';
import { createSubAgentManager } from './subagents/index.ts';
import { SelfUpgrade, type ExecRequest } from './self-upgrade/self-upgrade.ts';

export const EXIT = { OK: 0, FAILURE: 1, CONFIG: 2, LOCKED: 3 } as const satisfies Record<
  string,
  (typeof EXIT_CODES)[keyof typeof EXIT_CODES]
>;
/** A stop that takes longer than this is cut short (the journal is written atomically anyway). */
const STOP_GRACE_MS = 20_000;

interface Flags {
  foreground?: boolean;
  log?: string;
  pidfile?: string;
  servers?: string;
  test?: boolean;
  allowNoServer?: boolean;
  config?: string;
  stateDir?: string;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('boot')
    .description('Aspire BootAgent: registers this host, pushes its status, runs jobs, supervises sub-agents')
    .version(versionLine('boot'), '-V, --version')
    .option('-f, --foreground', 'stay in the foreground (systemd runs it so); without it, daemonize')
    .option('-L, --log <file>', 'log file (default /var/log/bootagent/boot.log, env BOOT_LOG)')
    .option('-P, --pidfile <file>', 'pidfile, locked while running (default /run/bootagent.pid, env BOOT_PIDFILE)')
    .option(
      '-S, --servers <list>',
      'server list svr1:port,svr2 or http(s) URLs; first start only, then kept in the metafile',
    )
    .option(
      '-T, --test',
      'check the config and exit 0, or 2 naming each bad key or saying that no server is known; never touches the live log',
    )
    .option(
      '--allow-no-server',
      'with -T: a config that names no server yet is valid (the packaged unit: the service then waits for one)',
    )
    .option('-c, --config <file>', 'config file (default /etc/bootagent/boot.json, env BOOT_CONFIG)')
    .option(
      '-d, --state-dir <dir>',
      'state directory: metafile, job journal, sub-agents (default /var/lib/bootagent, env BOOT_STATE_DIR)',
    )
    .addHelpText(
      'after',
      `
Examples:
  boot -T                                  check /etc/bootagent/boot.json (exit 2 naming each problem)
  boot -f -S aspire.example:8180           first start in the foreground against one server
  boot -c ./boot.json -d ./state -L ./boot.log -P ./boot.pid -f

Server list, in order: the build-time default, -S (first start) or the metafile, "servers" in
boot.json, lists pushed by config jobs. Without any, boot waits (one log line per backoff).

Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 already running (pidfile held).`,
    )
    .showHelpAfterError()
    .exitOverride();
  try {
    program.parse(argv);
  } catch (err) {
    const code = (err as { code?: string; exitCode?: number }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version') return EXIT.OK;
    return EXIT.CONFIG;
  }
  const flags = program.opts<Flags>();
  const env = process.env;
  const paths = resolvePaths(flags, env);

  let checked: CheckedConfig;
  let policy: Readonly<HostPolicy>;
  try {
    checked = loadBootConfig(paths.config, { required: paths.configExplicit });
    // A policy file that does not parse, has a bad key or a wrong owner: exit 2 naming it.
    try {
      policy = loadHostPolicy(checked.config.policy);
    } catch (err) {
      if (err instanceof ConfigError)
        throw new ConfigError(
          err.source,
          err.problems.map((p) => `host policy: ${p}`),
        );
      throw err;
    }
    if (flags.servers !== undefined) {
      const s = checkServerList(flags.servers);
      if (!s.ok) throw new ConfigError('-S', [`-S: ${s.error}`]);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`boot: ${err.message}\n`);
      notifyParent({ ok: false, error: err.message, exitCode: EXIT.CONFIG });
      return EXIT.CONFIG;
    }
    throw err;
  }
  if (flags.test) {
    // -T: report on stdout, exit; the live log is never opened.
    if (!flags.allowNoServer && knownServers(flags.servers, checked, paths.stateDir).length === 0) {
      process.stderr.write(
        `boot: no server known: no build-time default, no -S, no "servers" in ${paths.config}, none in the metafile of ${paths.stateDir}. ` +
          `Set one, e.g. "servers": ["aspire.example:8180"] in ${paths.config}\n`,
      );
      return EXIT.CONFIG;
    }
    for (const n of checked.notes) process.stdout.write(`boot: note: ${n}\n`);
    process.stdout.write(`boot: config ${paths.config} is valid (host policy: ${policy.source})\n`);
    return EXIT.OK;
  }

  if (!flags.foreground) {
    // The daemon runs in / : hand it the resolved absolute paths, not the relative ones given.
    const childArgs = ['-L', paths.log, '-P', paths.pidfile, '-d', paths.stateDir];
    if (paths.configExplicit) childArgs.push('-c', paths.config);
    if (flags.servers !== undefined) childArgs.push('-S', flags.servers);
    return daemonize('boot', childArgs);
  }

  const root = createRootLogger({ name: 'boot', file: paths.log, level: checked.config.logLevel });
  const log = root.logger;
  // A daemon's stderr goes nowhere: a crash must reach the log before the process exits
  // (systemd restarts it; the journal on disk makes the restart lose nothing).
  const crash = (what: string) => (err: unknown) => {
    log.fatal({ err }, `${what}: exiting`);
    root.flush();
    process.exit(EXIT.FAILURE);
  };
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled promise rejection'));
  let release: () => void;
  try {
    release = acquirePidfile(paths.pidfile);
  } catch (err) {
    const msg =
      err instanceof PidfileLockedError
        ? err.message
        : `cannot take pidfile ${paths.pidfile}: ${(err as Error).message}`;
    process.stderr.write(`boot: ${msg}\n`);
    log.error(msg);
    const code = err instanceof PidfileLockedError ? EXIT.LOCKED : EXIT.FAILURE;
    notifyParent({ ok: false, error: msg, exitCode: code });
    root.flush();
    return code;
  }
  notifyParent({ ok: true, pid: process.pid });

  log.info({ version: VERSION, paths, config: checked.config, policy: policy.source }, 'boot starting');
  for (const n of checked.notes) log.warn(`config: ${n}`);

  // A self-upgrade marker is settled before anything else runs (docs/lifecycle.md "BootAgent
  // self-upgrade"): finish its step here, or exec the version the step needs (same pid).
  const selfUpgrade = new SelfUpgrade({
    stateDir: paths.stateDir,
    logger: log,
    clock: realClock,
    healthySec: checked.config.selfUpgrade.healthySec,
    downloadMaxBytes: checked.config.supervision.downloadMaxBytes,
    ...(checked.config.ca ? { caFile: checked.config.ca } : {}),
    args: process.argv.slice(2),
    // rpm --root/--dbpath of the BootAgent's own package: tests install it into a scratch root.
    rpm: {
      ...(env.BOOT_RPM_ROOT ? { root: env.BOOT_RPM_ROOT } : {}),
      ...(env.BOOT_RPM_DBPATH ? { dbpath: env.BOOT_RPM_DBPATH } : {}),
    },
  });
  const settled = await selfUpgrade.settle().catch((err: unknown) => {
    log.error({ err }, 'cannot settle the self-upgrade marker; going on with this version');
    return undefined;
  });
  if (settled) return execNow(settled, root);
  let execRequest: ExecRequest | undefined;

  const ac = new AbortController();
  const onStop = (sig: NodeJS.Signals | 'exec') => {
    if (ac.signal.aborted) return;
    log.info({ signal: sig }, 'stopping');
    ac.abort(new Error(sig === 'exec' ? 'exec of the next version' : `received ${sig}`));
    setTimeout(() => {
      log.error(`stop took longer than ${STOP_GRACE_MS} ms; exiting anyway`);
      root.flush();
      release();
      process.exit(EXIT.FAILURE);
    }, STOP_GRACE_MS).unref();
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', () => {
    root.reopen();
    log.info({ file: paths.log }, 'log file reopened (SIGHUP)');
  });

  const agent = createBootAgent({
    config: checked.config,
    stateDir: paths.stateDir,
    clock: realClock,
    logger: log,
    policy,
    // Package downloads over https trust the same extra CA as the status channel.
    createManager: (d) => createSubAgentManager({ ...d, ...(checked.config.ca ? { caFile: checked.config.ca } : {}) }),
    ...(flags.servers !== undefined ? { serverFlag: flags.servers } : {}),
    selfUpgrade,
    requestExec: (req) => {
      execRequest = req;
      onStop('exec');
    },
    reloadConfiguredServers: () => {
      try {
        return loadBootConfig(paths.config, { required: paths.configExplicit }).config.servers;
      } catch {
        return undefined;
      }
    },
  });
  // The clock's timers are unref'd (they must not keep a test process alive); the daemon itself
  // lives until it is told to stop.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  process.stdout.write(`boot: running pid ${process.pid} state ${paths.stateDir} log ${paths.log}\n`);
  try {
    await agent.run(ac.signal);
    log.info('stopped');
    return EXIT.OK;
  } catch (err) {
    log.fatal({ err }, 'boot failed');
    return EXIT.FAILURE;
  } finally {
    clearInterval(keepAlive);
    // An exec keeps the pid, so the pidfile stays ours: the next version takes it again.
    if (!execRequest) release();
    root.flush();
    if (execRequest) execNow(execRequest, root);
  }
}

/**
 * Replace this process with another BootAgent build (process.execve: same pid, so systemd's
 * main pid and the sub-agents' parent stay). Returns only when the exec failed: exit 1, and the
 * supervisor's restart runs the executable in place, which settles the marker.
 */
function execNow(req: ExecRequest, root: ReturnType<typeof createRootLogger>): number {
  root.logger.info({ cmd: req.cmd, why: req.why }, 'exec of the next BootAgent version (same pid)');
  root.flush();
  try {
    // Node 24 has it on Linux; the type says it may be missing elsewhere.
    if (!process.execve) throw new Error('process.execve is not available in this Node');
    process.execve(req.cmd, req.argv, process.env);
  } catch (err) {
    root.logger.fatal({ err, cmd: req.cmd }, 'exec of the next BootAgent version failed: exiting');
    root.flush();
  }
  return EXIT.FAILURE;
}

/** Every server this start would try: build-time default, -S or the metafile's, boot.json's, pushed ones. */
function knownServers(flag: string | undefined, checked: CheckedConfig, stateDir: string): string[] {
  const meta = readMeta(stateDir);
  const fromMeta = meta.kind === 'ok' ? meta.meta : undefined;
  const flagged = flag !== undefined && !fromMeta ? checkServerList(flag) : undefined;
  return serverUrls({
    build: BUILD_SERVER_ADDR,
    servers: fromMeta?.servers ?? (flagged?.ok ? flagged.entries : []),
    configured: checked.config.servers,
    pushed: fromMeta?.pushedServers ?? [],
  });
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
    // Nothing left should hold the loop open, but never hang on a forgotten handle either.
    setTimeout(() => process.exit(code), 1000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`boot: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(EXIT.FAILURE);
  },
);
