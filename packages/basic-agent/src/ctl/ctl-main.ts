// The arguments are parsed by hand, not with commander like the other three programs: bundled
// and minified, commander costs ~6-7 ms of CPU per start against ~20 ms for a bare node start
// (over the 3 ms budget of a command run from scripts and loops), and collector arguments follow
// -c unparsed (docs/cli.md "The daemons").
// Only what the Ctl itself needs, by subpath: the packages' indexes would evaluate the daemon's
// schemas, logger and TLS modules on every start (docs/basic-agent.md "BasicAgentCtl start-up").
import { EXIT_CODES, versionLine } from '@aspire/agent-core/build-info';
import { ErrorCode, errorName } from '@aspire/protocol/error-codes';
import { COLLECTORS, collect } from '../collectors/registry.ts';
import { renderTable } from './render-table.ts';

const USAGE = `Usage: BasicAgentCtl -c <command> [collector arguments] [-a <arguments>] [--format json|table]

Runs a getinfo collector on this host (no daemon, no server) and prints what it found on stdout.
  -c <command>          getinfo.NAME, e.g. getinfo.kernel, getinfo.users
  collector arguments   after -c, e.g. -u, -S, -A, -U root (or all in one -a "-U root")
  -a <arguments>        the collector's arguments as one string
  --format json|table   table on a terminal, one JSON document otherwise (default)
  -h, --help            this text
  -V, --version         print NAME VERSION (node VERSION, ARCH)

Examples:
  BasicAgentCtl -c getinfo.users -u            normal accounts, as a table on a terminal
  BasicAgentCtl -c getinfo.users -U root --format json
  BasicAgentCtl -c getinfo.kernel | jq .release

Exit codes: 0 ok, 1 the collector failed, 2 usage error.

Collectors:
${[...COLLECTORS.values()].map((c) => `  getinfo.${c.name.padEnd(10)} ${c.summary}${c.samples ? ` (${c.samples})` : ''}`).join('\n')}
`;

export interface CtlIo {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal: the default format is a table, else one JSON document. */
  isTTY?: boolean;
}

/** BasicAgentCtl: returns the exit status. JSON on stdout only; every error on stderr. */
export async function ctlMain(args: string[], io: CtlIo): Promise<number> {
  let command: string | undefined;
  const cmdArgs: string[] = [];
  let format: 'json' | 'table' = io.isTTY ? 'table' : 'json';
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--help' || a === '-h') {
      io.out(USAGE);
      return EXIT_CODES.OK;
    }
    if (a === '--version' || a === '-V') {
      io.out(`${versionLine('BasicAgentCtl')}\n`);
      return EXIT_CODES.OK;
    }
    if (a === '--format' || a.startsWith('--format=')) {
      const v = a === '--format' ? args[++i] : a.slice('--format='.length);
      if (v !== 'json' && v !== 'table') {
        io.err(`BasicAgentCtl: --format must be json or table\n`);
        return EXIT_CODES.USAGE;
      }
      format = v;
      continue;
    }
    if ((a === '-c' || a === '-a') && i + 1 < args.length) {
      if (a === '-c') command = args[++i];
      else cmdArgs.push(args[++i]!);
      continue;
    }
    // After -c, anything else belongs to the collector (README: `-c getinfo.users -u`).
    if (command !== undefined) {
      cmdArgs.push(a);
      continue;
    }
    io.err(`BasicAgentCtl: unexpected argument ${JSON.stringify(a)}\n${USAGE}`);
    return EXIT_CODES.USAGE;
  }
  if (!command) {
    io.err(`BasicAgentCtl: -c <command> is required\n${USAGE}`);
    return EXIT_CODES.USAGE;
  }
  if (!command.startsWith('getinfo.')) {
    io.err(
      `BasicAgentCtl: unknown command ${JSON.stringify(command)} (${ErrorCode.COLLECTOR_UNKNOWN} COLLECTOR_UNKNOWN)\n`,
    );
    return 2;
  }
  const r = await collect(command, cmdArgs.length ? cmdArgs.join(' ') : undefined);
  if (!r.ok) {
    io.err(`BasicAgentCtl: ${r.message} (${r.code} ${errorName(r.code) ?? ''})\n`);
    return 1;
  }
  io.out(format === 'table' ? renderTable(r.data) : `${JSON.stringify(r.data)}\n`);
  return EXIT_CODES.OK;
}
