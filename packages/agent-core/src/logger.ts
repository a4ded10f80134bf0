import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Keys whose values never reach a log line: credentials, enrollment secrets, operator tokens.
 * Kept in one place so the agents and the server redact the same things.
 */
export const REDACT_PATHS = [
  'credential',
  '*.credential',
  'secret',
  '*.secret',
  'enrollSecret',
  '*.enrollSecret',
  'token',
  '*.token',
  'password',
  '*.password',
  'headers.authorization',
  'headers["x-aspire-credential"]',
  'headers["x-aspire-enroll"]',
  'req.headers.authorization',
  'req.headers["x-aspire-credential"]',
  'req.headers["x-aspire-enroll"]',
];

export interface RootLogger {
  logger: Logger;
  /** Reopen the log file (SIGHUP after logrotate moved it). */
  reopen(): void;
  /** Flush buffered lines; call before exit. */
  flush(): void;
}

/**
 * One root logger per binary. Writes through pino.destination (no transports: they need worker
 * files on disk, which a single executable does not have).
 */
export function createRootLogger(opts: { name: string; file?: string; level?: string }): RootLogger {
  const dest = opts.file
    ? pino.destination({ dest: opts.file, mkdir: true, sync: false })
    : pino.destination({ dest: 2, sync: true });
  const logger = pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { pid: process.pid },
    },
    dest,
  );
  return {
    logger,
    reopen: () => {
      if (opts.file) dest.reopen();
    },
    flush: () => {
      try {
        dest.flushSync();
      } catch {
        /* not ready yet (async destination still opening) */
      }
    },
  };
}

/** A logger that writes nothing, for unit tests of one module. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
