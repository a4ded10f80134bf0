/**
 * A failed `aspire serve` start as one line on stderr (exit 1, a runtime failure): a busy or
 * forbidden listen address names the address and the setting to change, a full disk names the
 * data dir, a file that cannot be opened names the file. Anything else is a bug and keeps its
 * stack. What the start had taken (pidfile lock,
 * store, hub, sockets) is undone by the caller first, so nothing is left behind.
 */
import { isStorageFull } from './store/storage-full.ts';
import { AspireError } from '@aspire/protocol';

/** A start failure already worded for the operator: printed as it is. */
export class StartupError extends AspireError<'ESTARTUP'> {
  constructor(message: string) {
    super('ESTARTUP', message);
  }
}

const LISTEN_WHY: Record<string, string> = {
  EADDRINUSE: 'the address is already in use (another process listens there)',
  EACCES: 'permission denied (a port below 1024 needs privileges)',
  EADDRNOTAVAIL: 'no such local address on this host',
};

/** A listen error as a StartupError naming the address and the setting that chooses it. */
export function listenFailure(err: unknown, address: string, setting: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  const why = typeof code === 'string' ? LISTEN_WHY[code] : undefined;
  if (why === undefined) return err;
  return new StartupError(`cannot listen on ${address}: ${why} (${code}); choose another address with ${setting}`);
}

/** The one line for a start failure the operator can fix, or undefined for a bug. */
export function startupFailureLine(err: unknown, dataDir: string | undefined): string | undefined {
  if (err instanceof StartupError) return err.message;
  if (isStorageFull(err)) {
    const e = err as { code?: string; syscall?: string; path?: string; message?: string };
    const where = e.syscall ? `${e.syscall}${e.path ? ` ${e.path}` : ''}` : (e.message ?? '').split('\n')[0];
    return `cannot start: no space left on the disk of the data dir${dataDir ? ` ${dataDir}` : ''} (${e.code ?? 'SQLITE_FULL'}: ${where}); free space and start again`;
  }
  // A file the start needs and cannot have (log file, data dir, TLS files: EACCES, ENOENT, EROFS...).
  const fsErr = err as { code?: unknown; syscall?: unknown; path?: unknown; message?: unknown } | null;
  if (typeof fsErr?.code === 'string' && typeof fsErr.syscall === 'string' && typeof fsErr.path === 'string')
    return `cannot start: ${String(fsErr.message)}`;
  return undefined;
}
