import { ErrorCode, errorName } from '@aspire/protocol';
import { VERSION } from '@aspire/agent-core';
import { COLLECTORS, collect } from '../collectors/registry.ts';

const USAGE = `Usage: BasicAgentCtl -c <command> [-a <arguments>]

Runs a getinfo collector on this host (no daemon, no server) and prints its JSON on stdout.
  -c <command>    getinfo.NAME, e.g. getinfo.kernel, getinfo.users
  -a <arguments>  the collector's arguments, e.g. "-U root", "-A", "-u", "-S"
  --help, --version

Collectors:
${[...COLLECTORS.values()].map((c) => `  getinfo.${c.name.padEnd(10)} ${c.summary}`).join('\n')}
`;

export interface CtlIo {
  out(text: string): void;
  err(text: string): void;
}

/** BasicAgentCtl: returns the exit status. JSON on stdout only; every error on stderr. */
export async function ctlMain(args: string[], io: CtlIo): Promise<number> {
  let command: string | undefined;
  let cmdArgs: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--help' || a === '-h') {
      io.out(USAGE);
      return 0;
    }
    if (a === '--version' || a === '-V') {
      io.out(`BasicAgentCtl ${VERSION}\n`);
      return 0;
    }
    if ((a === '-c' || a === '-a') && i + 1 < args.length) {
      if (a === '-c') command = args[++i];
      else cmdArgs = args[++i];
      continue;
    }
    io.err(`BasicAgentCtl: unexpected argument ${JSON.stringify(a)}\n${USAGE}`);
    return 2;
  }
  if (!command) {
    io.err(`BasicAgentCtl: -c <command> is required\n${USAGE}`);
    return 2;
  }
  if (!command.startsWith('getinfo.')) {
    io.err(`BasicAgentCtl: unknown command ${JSON.stringify(command)} (${ErrorCode.COLLECTOR_UNKNOWN} COLLECTOR_UNKNOWN)\n`);
    return 2;
  }
  const r = await collect(command, cmdArgs);
  if (!r.ok) {
    io.err(`BasicAgentCtl: ${r.message} (${r.code} ${errorName(r.code) ?? ''})\n`);
    return 1;
  }
  io.out(`${JSON.stringify(r.data, null, 2)}\n`);
  return 0;
}
