import { basename } from 'node:path';

export type Program = 'BasicAgent' | 'BasicAgentCtl';

/**
 * Which program this process is. One bundle (one single executable) serves both names, as
 * busybox does: the RPM installs /usr/bin/BasicAgentCtl as a link to /usr/bin/BasicAgent.
 * - single executable: the name it was started by (argv0 / argv[1], which is the executable);
 * - the bundle on node: `--as BasicAgentCtl` as the first argument (a .cjs has one name).
 * Returns the program and the arguments that belong to it.
 */
export function detectProgram(argv: readonly string[], argv0: string): { program: Program; args: string[] } {
  const args = argv.slice(2);
  if (args[0] === '--as' && (args[1] === 'BasicAgentCtl' || args[1] === 'BasicAgent')) {
    return { program: args[1], args: args.slice(2) };
  }
  const names = [basename(argv0), basename(argv[1] ?? ''), basename(argv[0] ?? '')];
  if (names.some((n) => /^basicagentctl$/i.test(n))) return { program: 'BasicAgentCtl', args };
  return { program: 'BasicAgent', args };
}
