import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
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
  'metricsToken',
  '*.metricsToken',
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
  /**
   * Resolves once the destination is open. A log file opens asynchronously, and pino flushes
   * it synchronously at process exit, which throws ("sonic boom is not ready yet") if the file
   * is not open yet: a binary that may exit early awaits this first.
   */
  ready(): Promise<void>;
}

/**
 * One root logger per binary. Writes through pino.destination (no transports: they need worker
 * files on disk, which a single executable does not have).
 */
export function createRootLogger(opts: { name: string; file?: string | undefined; level?: string }): RootLogger {
  // A log file that cannot be opened (no such directory allowed, full disk, no permission) is
  // an ordinary error here, thrown before any asynchronous open that would fail later.
  if (opts.file) {
    mkdirSync(dirname(opts.file), { recursive: true });
    closeSync(openSync(opts.file, 'a'));
  }
  const dest = opts.file
    ? pino.destination({ dest: opts.file, mkdir: true, sync: false })
    : pino.destination({ dest: 2, sync: true });
  const opened = opts.file
    ? new Promise<void>((resolve, reject) => {
        dest.once('error', reject);
        dest.once('ready', () => {
          dest.removeListener('error', reject);
          resolve();
        });
      })
    : Promise.resolve();
  opened.catch(() => undefined); // awaited by ready(), if at all
  const logger = pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { pid: process.pid },
      // Level names ("level":"info"), not pino's numbers: readable with grep and jq alike.
      formatters: { level: (label) => ({ level: label }) },
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
    ready: () => opened,
  };
}

/** A logger that writes nothing, for unit tests of one module. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
