import { detectProgram } from './cli/program-name.ts';

// One bundle, two programs (see docs/basic-agent.md "One binary, two names"). Each side is
// loaded only when it runs: the Ctl is started often and should not pay for the daemon's
// TLS, logger and scheduler modules.
const { program, args } = detectProgram(process.argv, process.argv0);
const done =
  program === 'BasicAgentCtl'
    ? import('./ctl/ctl-main.ts').then((m) =>
        m.ctlMain(args, {
          out: (t) => process.stdout.write(t),
          err: (t) => process.stderr.write(t),
          isTTY: process.stdout.isTTY === true,
        }),
      )
    : import('./cli/agent-main.ts').then((m) => m.agentMain(args));
done.then(
  (code) => {
    // Let stdout drain (a pipe to `python -m json.tool`) before exiting.
    process.exitCode = code;
    if (program === 'BasicAgentCtl' || code !== 0) process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`${program}: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
