import { agentMain } from './cli/agent-main.ts';
import { detectProgram } from './cli/program-name.ts';
import { ctlMain } from './ctl/ctl-main.ts';

// One bundle, two programs (see docs/basic-agent.md "One binary, two names").
const { program, args } = detectProgram(process.argv, process.argv0);
const done =
  program === 'BasicAgentCtl'
    ? ctlMain(args, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) })
    : agentMain(process.argv, args);
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
