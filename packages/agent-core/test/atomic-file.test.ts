import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonFile, writeJsonAtomic, writeJsonAtomicSync, writeTextAtomic } from '@aspire/agent-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'agent-core-atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('atomic state files', () => {
  it('writes JSON whole with its mode, creating the directory, and leaves no temp file', async () => {
    const path = join(dir, 'a', 'b', 'state.json');
    await writeJsonAtomic(path, { n: 1, list: ['x'] });
    expect(readFileSync(path, 'utf8')).toBe('{\n  "n": 1,\n  "list": [\n    "x"\n  ]\n}\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await writeJsonAtomic(path, { n: 2 }, 0o644);
    expect(readJsonFile(path)).toEqual({ kind: 'ok', value: { n: 2 } });
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(readdirSync(join(dir, 'a', 'b'))).toEqual(['state.json']);
  });

  it('the sync writer and the text writer do the same', async () => {
    const json = join(dir, 'sync', 'state.json');
    writeJsonAtomicSync(json, [1, 2]);
    expect(readJsonFile(json)).toEqual({ kind: 'ok', value: [1, 2] });
    const pem = join(dir, 'keys', 'key.pem');
    await writeTextAtomic(pem, '-----BEGIN X-----\n', 0o400);
    expect(readFileSync(pem, 'utf8')).toBe('-----BEGIN X-----\n');
    expect(statSync(pem).mode & 0o777).toBe(0o400);
  });

  it('tells a missing file, an unreadable one and malformed JSON apart', () => {
    expect(readJsonFile(join(dir, 'none.json'))).toEqual({ kind: 'missing' });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"half": ');
    const r = readJsonFile(bad);
    expect(r.kind).toBe('corrupt');
    if (r.kind === 'corrupt') expect(r.stage).toBe('parse');
    // A directory where the file should be cannot be read as a file.
    const asDir = join(dir, 'dir.json');
    mkdirSync(asDir);
    const d = readJsonFile(asDir);
    expect(d.kind).toBe('corrupt');
    if (d.kind === 'corrupt') expect(d.stage).toBe('read');
  });

  it('a write into a path under a regular file fails and keeps the old file', async () => {
    const path = join(dir, 'state.json');
    await writeJsonAtomic(path, { keep: true });
    await expect(writeJsonAtomic(join(path, 'child.json'), {})).rejects.toThrow();
    expect(readJsonFile(path)).toEqual({ kind: 'ok', value: { keep: true } });
  });
});
