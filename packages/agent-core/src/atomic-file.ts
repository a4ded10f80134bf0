import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import writeFileAtomic from 'write-file-atomic';

/**
 * State files are written whole or not at all: write-file-atomic writes a temp file beside the
 * target (same directory, so the same mount: rename never crosses devices, design.md §3),
 * fsyncs it and renames it over the target. A kill -9 leaves the old or the new file, never half.
 */
export async function writeJsonAtomic(path: string, value: unknown, mode = 0o600): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, { mode, fsync: true });
}

export function writeJsonAtomicSync(path: string, value: unknown, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic.sync(path, `${JSON.stringify(value, null, 2)}\n`, { mode, fsync: true });
}

/** Any text (a PEM key or certificate) written the same way: whole or not at all, with this mode. */
export async function writeTextAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await writeFileAtomic(path, text, { mode, fsync: true });
}

export type ReadJson<T> =
  | { kind: 'missing' }
  | { kind: 'ok'; value: T }
  /** `stage` tells a file that could not be read from one that is not valid JSON. */
  | { kind: 'corrupt'; error: string; stage: 'read' | 'parse' };

/** Read a JSON state file; a missing file and a corrupt one are different answers. */
export function readJsonFile<T = unknown>(path: string): ReadJson<T> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'corrupt', error: (err as Error).message, stage: 'read' };
  }
  try {
    return { kind: 'ok', value: JSON.parse(text) as T };
  } catch (err) {
    return { kind: 'corrupt', error: (err as Error).message, stage: 'parse' };
  }
}
