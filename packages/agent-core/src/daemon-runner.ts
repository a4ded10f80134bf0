/**
 * One start-up and shut-down path for both daemons (`boot`, `BasicAgent`; docs/cli.md "The
 * daemons"). The program hands over what differs (how its config loads, what -T reports, the
 * flags its detached child gets, the work itself); this module owns what must not differ:
 * exit codes, config errors (exit 2), daemonizing, crash handling, the pidfile (exit 3 when
 * held), the signals (SIGTERM/SIGINT stop, SIGHUP reopens the log) and the final flush.
 */
import type { Logger } from 'pino';
import { EXIT_CODES } from './build-info.ts';
import { ConfigError } from './config-check.ts';
import { daemonize, notifyParent } from './daemonize.ts';
import { createRootLogger, type RootLogger } from './logger.ts';
import { takePidfile } from './daemon-pidfile.ts';

export interface DaemonContext<L> {
  /** What `load` returned. */
  loaded: L;
  root: RootLogger;
  log: Logger;
  /** Aborted by SIGTERM, SIGINT or `stop`. */
  signal: AbortSignal;
  /**
   * Stop as on SIGTERM, for a reason of the program's own (boot: the exec of its next version):
   * `reason` is logged as the signal, `why` is the abort reason.
   */
  stop(reason: string, why?: string): void;
  /** Run `fn` on each SIGHUP too, after the log file was reopened. */
  onHangup(fn: () => void): void;
}

export interface DaemonOutcome {
  code: number;
  /**
   * Replaces this process with another image of the same pid (boot's self-upgrade): the pidfile
   * stays taken, and this runs after the log is flushed. Returns only on failure, with the code.
   */
  handOver?: () => number;
}

export interface DaemonSpec<L> {
  /** Program name: the prefix of every stderr line and the logger's name. */
  name: string;
  foreground: boolean;
  /** -T: only check the config, report, and exit (the live log is never opened). */
  test: boolean;
  /** Load and check the config: a ConfigError is exit 2, naming each problem. */
  load(): L;
  /** -T's report (stdout when valid, stderr otherwise); returns the exit code. */
  report(loaded: L): number;
  /** The detached child's flags (absolute paths: it runs in /); `-f` is added. */
  childArgs(loaded: L): string[];
  logFile: string | undefined;
  logLevel(loaded: L): string;
  pidfile: string | undefined;
  /** A stop that takes longer is cut short with exit 1; unset: the program bounds its own stop. */
  stopGraceMs?: number;
  run(ctx: DaemonContext<L>): Promise<DaemonOutcome>;
}

export async function runDaemon<L>(spec: DaemonSpec<L>): Promise<number> {
  const { name } = spec;
  let loaded: L;
  try {
    loaded = spec.load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${name}: ${err.message}\n`);
    notifyParent({ ok: false, error: err.message, exitCode: EXIT_CODES.USAGE });
    return EXIT_CODES.USAGE;
  }
  if (spec.test) return spec.report(loaded);
  if (!spec.foreground) return daemonize(name, spec.childArgs(loaded));

  const root = createRootLogger({
    name,
    ...(spec.logFile !== undefined ? { file: spec.logFile } : {}),
    level: spec.logLevel(loaded),
  });
  const log = root.logger;
  installCrashHandlers(root);
  const pid = takePidfile(name, spec.pidfile, root);
  if (pid.kind === 'failed') {
    notifyParent({ ok: false, error: pid.message, exitCode: pid.code });
    root.flush();
    return pid.code;
  }
  notifyParent({ ok: true, pid: process.pid });

  const ac = new AbortController();
  const hangups: Array<() => void> = [];
  const stop = (reason: string, why = `received ${reason}`) => {
    if (ac.signal.aborted) return;
    log.info({ signal: reason }, 'stopping');
    ac.abort(new Error(why));
    if (spec.stopGraceMs === undefined) return;
    const grace = spec.stopGraceMs;
    setTimeout(() => {
      log.error(`stop took longer than ${grace} ms; exiting anyway`);
      root.flush();
      pid.release();
      process.exit(EXIT_CODES.FAILURE);
    }, grace).unref();
  };
  const onSignal = (sig: NodeJS.Signals) => stop(sig);
  const onHup = () => {
    root.reopen();
    log.info({ file: spec.logFile ?? 'stderr' }, 'log file reopened (SIGHUP)');
    for (const fn of hangups) fn();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onHup);
  // Every agent timer is unref'd (Clock contract); the daemon lives until it is told to stop.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let outcome: DaemonOutcome;
  try {
    const onHangup = (fn: () => void) => void hangups.push(fn);
    outcome = await spec.run({ loaded, root, log, signal: ac.signal, stop, onHangup });
    if (!outcome.handOver) log.info('stopped');
  } catch (err) {
    log.fatal({ err }, `${name} failed`);
    process.stderr.write(`${name}: ${(err as Error)?.message ?? String(err)}\n`);
    outcome = { code: EXIT_CODES.FAILURE };
  } finally {
    // The signal handlers stay: a second SIGTERM while the process ends must not kill it mid-flush.
    clearInterval(keepAlive);
  }
  // An exec keeps the pid, so the pidfile stays ours: the next image takes it again.
  if (!outcome.handOver) pid.release();
  root.flush();
  return outcome.handOver ? outcome.handOver() : outcome.code;
}

/**
 * A daemon's stderr goes nowhere: a crash must reach the log before the process exits
 * (systemd restarts it; what the program keeps on disk makes the restart lose nothing).
 */
function installCrashHandlers(root: RootLogger): void {
  const crash = (what: string) => (err: unknown) => {
    root.logger.fatal({ err }, `${what}: exiting`);
    root.flush();
    process.exit(EXIT_CODES.FAILURE);
  };
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled promise rejection'));
}
