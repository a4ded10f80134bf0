// Pure parts of the download/staging path (the network and file cases run in
// test/integration/subagent-manager.test.ts against real servers).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseChecksum, redact } from '../../src/subagents/download.ts';
import { JobError } from '../../src/subagents/job-error.ts';
import { sniff } from '../../src/subagents/package-stage.ts';

const dir = mkdtempSync(join(tmpdir(), 'sniff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('download helpers', () => {
  it('parseChecksum takes SHA256:<64 hex> (any case) and refuses the rest with JOB_INVALID', () => {
    expect(parseChecksum(`SHA256:${'AB'.repeat(32)}`)).toBe('ab'.repeat(32));
    for (const bad of [
      undefined,
      '',
      'sha256:' + 'a'.repeat(64),
      `SHA256:${'a'.repeat(63)}`,
      `MD5:${'a'.repeat(32)}`,
      `SHA256:${'g'.repeat(64)}`,
      42,
    ]) {
      let err: unknown;
      try {
        parseChecksum(bad);
      } catch (e) {
        err = e;
      }
      expect(err, String(bad)).toBeInstanceOf(JobError);
      expect((err as JobError).codeName).toBe('JOB_INVALID');
    }
  });

  it('redact hides an ftp password, leaves other URLs alone', () => {
    expect(redact('ftp://deploy:s3cret@127.0.0.1:2121/a.rpm')).toBe('ftp://deploy:***@127.0.0.1:2121/a.rpm');
    expect(redact('http://127.0.0.1/a.tar.gz?x=1')).toBe('http://127.0.0.1/a.tar.gz?x=1');
    expect(redact('not a url')).toBe('not a url');
  });

  it('sniff tells gzip from rpm by magic bytes, not by name', () => {
    const f = (name: string, bytes: number[]) => {
      const p = join(dir, name);
      writeFileSync(p, Buffer.from(bytes));
      return p;
    };
    expect(sniff(f('a.rpm', [0x1f, 0x8b, 8, 0]))).toBe('tar');
    expect(sniff(f('b.tar.gz', [0xed, 0xab, 0xee, 0xdb, 3, 0]))).toBe('rpm');
    expect(sniff(f('c.tar.gz', [0x50, 0x4b, 3, 4]))).toBeUndefined();
    expect(sniff(f('empty', []))).toBeUndefined();
  });
});
