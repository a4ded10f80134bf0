import { closeSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { isAlive, processStartUnix } from './proc.ts';
import { AspireError } from '@aspire/protocol';

export class PidfileLockedError extends AspireError<'EPIDLOCKED'> {
  constructor(
    readonly path: string,
    readonly pid: number,
  ) {
    super('EPIDLOCKED', `pidfile ${path} is held by running process ${pid}; is another instance running?`);
  }
}

/**
 * Take the pidfile as a lock. Node has no flock, so the lock is the file itself, created with
 * link(2) (atomic: exactly one of two racing starts wins). A pidfile left by a dead process,
 * or naming a pid that was reused by a process started after the file was written, is stale
 * and taken over.
 */
export function acquirePidfile(path: string, pid = process.pid): () => void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${pid}.tmp`;
  // The temporary file goes in every case, also when writing it fails (a full disk creates
  // the file and then refuses its bytes).
  try {
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, `${pid}\n`);
    } finally {
      closeSync(fd);
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(tmp, path);
        return () => releasePidfile(path, pid);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = readHolder(path);
      if (holder !== undefined && holder.pid !== pid && holderIsLive(holder)) {
        throw new PidfileLockedError(path, holder.pid);
      }
      try {
        unlinkSync(path);
      } catch {
        /* raced with another remover: retry the link */
      }
    }
    throw new Error(`could not take pidfile ${path}`);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
  }
}

function readHolder(path: string): { pid: number; writtenAt: number } | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    const writtenAt = statSync(path).mtimeMs / 1000;
    return Number.isInteger(pid) && pid > 0 ? { pid, writtenAt } : undefined;
  } catch {
    return undefined;
  }
}

function holderIsLive(holder: { pid: number; writtenAt: number }): boolean {
  if (!isAlive(holder.pid)) return false;
  const started = processStartUnix(holder.pid);
  // A process that started after the file was written cannot be the one that wrote it.
  return started === undefined || started <= holder.writtenAt + 2;
}

function releasePidfile(path: string, pid: number): void {
  const holder = readHolder(path);
  if (holder?.pid === pid) {
    try {
      unlinkSync(path);
    } catch {
      /* gone already */
    }
  }
}
