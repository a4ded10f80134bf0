/**
 * The daemon runner's pidfile step: take it as a lock, or say why not on stderr and in the log
 * with the exit code (3 when another instance holds it, 1 for any other failure).
 */
import { EXIT_CODES } from './build-info.ts';
import type { RootLogger } from './logger.ts';
import { PidfileLockedError, acquirePidfile } from './pidfile.ts';

export type PidfileTaken =
  | { kind: 'taken'; release: () => void }
  | { kind: 'failed'; code: number; message: string; release: () => void };

/** `path` undefined: the program runs without a pidfile (BasicAgent without -P). */
export function takePidfile(name: string, path: string | undefined, root: RootLogger): PidfileTaken {
  if (path === undefined) return { kind: 'taken', release: () => undefined };
  try {
    return { kind: 'taken', release: acquirePidfile(path) };
  } catch (err) {
    const locked = err instanceof PidfileLockedError;
    const message = locked ? err.message : `cannot take pidfile ${path}: ${(err as Error).message}`;
    process.stderr.write(`${name}: ${message}\n`);
    root.logger.error(message);
    return {
      kind: 'failed',
      code: locked ? EXIT_CODES.RUNNING : EXIT_CODES.FAILURE,
      message,
      release: () => undefined,
    };
  }
}
