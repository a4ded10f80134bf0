import { AspireError } from '@aspire/protocol';

/**
 * Failures of the operator CLI, each with its exit code (docs/cli.md): a usage or config error
 * is 2 (nothing was sent), a server that refused or could not be reached is 1. The message is
 * one line and never holds the token.
 */
export class UsageError extends AspireError<'EUSAGE'> {
  readonly exitCode = 2;
  constructor(message: string) {
    super('EUSAGE', message);
  }
}

export class CliFailure extends AspireError<'ECLIFAILURE'> {
  readonly exitCode = 1;
  constructor(message: string) {
    super('ECLIFAILURE', message);
  }
}

/** The exit code and the one line for anything a client command threw. */
export function describeFailure(err: unknown, secrets: readonly string[]): { exitCode: number; line: string } {
  const exitCode = err instanceof UsageError ? 2 : 1;
  let line = err instanceof Error ? err.message : String(err);
  for (const s of secrets) if (s) line = line.split(s).join('<token>');
  return { exitCode, line: line.replace(/\s*\n\s*/g, ' ') };
}
