/**
 * The command line both daemons (`boot`, `BasicAgent`) share: one commander program with the
 * common flags, and one way to turn commander's help, version and usage errors into the exit
 * codes of docs/design.md (0 for --help/--version, 2 for a bad flag). Program-specific flags
 * (boot's -S and -d) are added by the caller before parsing.
 */
import { Command } from 'commander';
import { EXIT_CODES, versionLine } from './build-info.ts';

/** The flags every daemon takes; `log`, `pidfile` and `config` are as given (not resolved). */
export interface DaemonFlags {
  foreground?: boolean;
  log?: string;
  pidfile?: string;
  config?: string;
  test?: boolean;
  allowNoServer?: boolean;
}

/** The words of each common flag's help line that differ between the daemons (defaults, env). */
export interface DaemonFlagHelp {
  log: string;
  pidfile: string;
  config: string;
  test: string;
}

/** A commander program for daemon `name` with the common flags; add its own before parsing. */
export function daemonProgram(name: string, description: string, help: DaemonFlagHelp): Command {
  return new Command(name)
    .description(description)
    .version(versionLine(name), '-V, --version')
    .option('-f, --foreground', 'stay in the foreground (systemd runs it so); without it, daemonize')
    .option('-L, --log <file>', help.log)
    .option('-P, --pidfile <file>', help.pidfile)
    .option('-c, --config <file>', help.config)
    .option('-T, --test', help.test)
    .option(
      '--allow-no-server',
      'with -T: a config that names no server yet is valid (the packaged unit: the service then waits for one)',
    )
    .showHelpAfterError()
    .exitOverride();
}

export type ParsedArgs<F> = { kind: 'run'; flags: F } | { kind: 'exit'; code: number };

/**
 * Parse `args` (the arguments after the program name). Commander has already printed help,
 * the version or the usage error when this returns `exit`.
 */
export function parseDaemonArgs<F extends DaemonFlags>(program: Command, args: readonly string[]): ParsedArgs<F> {
  try {
    program.parse([...args], { from: 'user' });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version')
      return { kind: 'exit', code: EXIT_CODES.OK };
    return { kind: 'exit', code: EXIT_CODES.USAGE };
  }
  return { kind: 'run', flags: program.opts<F>() };
}
