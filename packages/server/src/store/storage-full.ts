/**
 * "The disk is full" as the server meets it: a file-system ENOSPC/EDQUOT (isDiskFull of
 * agent-core), or SQLite's SQLITE_FULL ("database or disk is full") from node:sqlite, which
 * carries the SQLite result code in `errcode` instead of an errno code.
 */
import { isDiskFull } from '@aspire/agent-core';

const SQLITE_FULL = 13;

export function isStorageFull(err: unknown): boolean {
  if (isDiskFull(err)) return true;
  const e = err as { errcode?: unknown; message?: unknown } | null | undefined;
  if (typeof e?.errcode === 'number' && (e.errcode & 0xff) === SQLITE_FULL) return true;
  return typeof e?.message === 'string' && /database or disk is full|SQLITE_FULL/i.test(e.message);
}
