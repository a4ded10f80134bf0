/**
 * `boot` (docs/design.md "BootAgent CLI"). This file only parses flags, loads and checks the
 * config, settles a self-upgrade marker and hands over to createBootAgent. The start-up and
 * shut-down path (exit codes 0 ok, 1 runtime failure, 2 bad config or flags, 3 pidfile held;
 * daemonizing, pidfile, signals, crash handling) is agent-core's daemon runner, shared with
 * `BasicAgent` (docs/cli.md "The daemons").
 */
import {
  BUILD_SERVER_ADDR,
  ConfigError,
  type EXIT_CODES,
  VERSION,
  type RootLogger,
  loadHostPolicy,
  realClock,
  type HostPolicy,
} from '@aspire/agent-core';
import { daemonProgram, parseDaemonArgs, type DaemonFlags } from '@aspire/agent-core/daemon-cli';
import { runDaemon, type DaemonContext, type DaemonOutcome } from '@aspire/agent-core/daemon-runner';
import { createBootAgent } from './boot-agent.ts';
import { resolvePaths, type BootPaths } from './cli/paths.ts';
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

interface Flags extends DaemonFlags {
  servers?: string;
  stateDir?: string;
}

interface Loaded {
  checked: CheckedConfig;
  policy: Readonly<HostPolicy>;
}

function program() {
  return daemonProgram(
    'boot',
    'Aspire BootAgent: registers this host, pushes its status, runs jobs, supervises sub-agents',
    {
      log: 'log file (default /var/log/bootagent/boot.log, env BOOT_LOG)',
      pidfile: 'pidfile, locked while running (default /run/bootagent.pid, env BOOT_PIDFILE)',
      config: 'config file (default /etc/bootagent/boot.json, env BOOT_CONFIG)',
      test: 'check the config and exit 0, or 2 naming each bad key or saying that no server is known; never touches the live log',
    },
  )
    .option(
      '-S, --servers <list>',
      'server list svr1:port,svr2 or http(s) URLs; first start only, then kept in the metafile',
    )
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
    );
}

/** boot.json, the host policy it names and -S; a problem in any is a config error (exit 2). */
function load(paths: BootPaths, servers: string | undefined): Loaded {
  const checked = loadBootConfig(paths.config, { required: paths.configExplicit });
  let policy: Readonly<HostPolicy>;
  try {
    policy = loadHostPolicy(checked.config.policy);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(
      err.source,
      err.problems.map((p) => `host policy: ${p}`),
    );
  }
  if (servers !== undefined) {
    const s = checkServerList(servers);
    if (!s.ok) throw new ConfigError('-S', [`-S: ${s.error}`]);
  }
  return { checked, policy };
}

/** -T: report on stdout and exit; the live log is never opened. */
function report(flags: Flags, paths: BootPaths, { checked, policy }: Loaded): number {
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

async function main(args: string[]): Promise<number> {
  const parsed = parseDaemonArgs<Flags>(program(), args);
  if (parsed.kind === 'exit') return parsed.code;
  const flags = parsed.flags;
  const paths = resolvePaths(flags, process.env);
  return runDaemon<Loaded>({
    name: 'boot',
    foreground: flags.foreground === true,
    test: flags.test === true,
    load: () => load(paths, flags.servers),
    report: (loaded) => report(flags, paths, loaded),
    childArgs: () => {
      // The daemon runs in / : hand it the resolved absolute paths, not the relative ones given.
      const childArgs = ['-L', paths.log, '-P', paths.pidfile, '-d', paths.stateDir];
      if (paths.configExplicit) childArgs.push('-c', paths.config);
      if (flags.servers !== undefined) childArgs.push('-S', flags.servers);
      return childArgs;
    },
    logFile: paths.log,
    logLevel: ({ checked }) => checked.config.logLevel,
    pidfile: paths.pidfile,
    stopGraceMs: STOP_GRACE_MS,
    run: (ctx) => runBoot(ctx, paths, flags.servers),
  });
}

async function runBoot(
  ctx: DaemonContext<Loaded>,
  paths: BootPaths,
  servers: string | undefined,
): Promise<DaemonOutcome> {
  const { checked, policy } = ctx.loaded;
  const { log, root } = ctx;
  const env = process.env;
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
  if (settled) return { code: EXIT.FAILURE, handOver: () => execNow(settled, root) };
  let execRequest: ExecRequest | undefined;

  const agent = createBootAgent({
    config: checked.config,
    stateDir: paths.stateDir,
    clock: realClock,
    logger: log,
    policy,
    // Package downloads over https trust the same extra CA as the status channel.
    createManager: (d) => createSubAgentManager({ ...d, ...(checked.config.ca ? { caFile: checked.config.ca } : {}) }),
    ...(servers !== undefined ? { serverFlag: servers } : {}),
    selfUpgrade,
    requestExec: (req) => {
      execRequest = req;
      ctx.stop('exec', 'exec of the next version');
    },
    reloadConfiguredServers: () => {
      try {
        return loadBootConfig(paths.config, { required: paths.configExplicit }).config.servers;
      } catch {
        return undefined;
      }
    },
  });
  process.stdout.write(`boot: running pid ${process.pid} state ${paths.stateDir} log ${paths.log}\n`);
  try {
    await agent.run(ctx.signal);
  } catch (err) {
    // A failure while stopping for the exec still execs: the next version settles what is left.
    if (!execRequest) throw err;
    log.fatal({ err }, 'boot failed');
  }
  const exec = execRequest;
  return exec ? { code: EXIT.OK, handOver: () => execNow(exec, root) } : { code: EXIT.OK };
}

/**
 * Replace this process with another BootAgent build (process.execve: same pid, so systemd's
 * main pid and the sub-agents' parent stay). Returns only when the exec failed: exit 1, and the
 * supervisor's restart runs the executable in place, which settles the marker.
 */
function execNow(req: ExecRequest, root: RootLogger): number {
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

main(process.argv.slice(2)).then(
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
