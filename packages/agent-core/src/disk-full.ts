/**
 * A full disk, told apart from other write failures in one place: ENOSPC (no space left on the
 * device) and EDQUOT (the user's quota is spent) are the same situation for every caller here,
 * a condition that goes away once space is freed, so callers keep going from memory and retry.
 */

/** The errno codes that mean "no room to write": out of space or out of quota. */
export const DISK_FULL_CODES: readonly string[] = ['ENOSPC', 'EDQUOT'];

/** True when err is a file-system error saying the disk (or the quota) is full. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && DISK_FULL_CODES.includes(code);
}

/**
 * Remembers whether writes to one place are failing for want of space, so a caller that retries
 * says so once when the disk fills and once when space returns, not on every attempt.
 * `failed(err)` and `succeeded()` answer whether this call changed the state.
 */
export class DiskFullWatch {
  private fullSince: number | undefined;

  /** isFull: what counts as "no room" (default isDiskFull; the server adds SQLite's SQLITE_FULL). */
  constructor(private readonly isFull: (err: unknown) => boolean = isDiskFull) {}

  /** Unix ms since when writes fail for want of space; undefined while they succeed. */
  get since(): number | undefined {
    return this.fullSince;
  }

  get full(): boolean {
    return this.fullSince !== undefined;
  }

  /** A write failed. True when it is a disk-full failure that begins a full period (say so now). */
  failed(err: unknown, nowMs: number): boolean {
    if (!this.isFull(err) || this.fullSince !== undefined) return false;
    this.fullSince = nowMs;
    return true;
  }

  /** A write succeeded. True when it ends a full period (space returned: say so now). */
  succeeded(): boolean {
    if (this.fullSince === undefined) return false;
    this.fullSince = undefined;
    return true;
  }
}
