import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AspireError, ErrorCode, failedReply, isAspireError } from '../src/index.ts';

const root = join(__dirname, '../../..');

/** Every `.ts` file under dir (node_modules and tests left out). */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'test') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('AspireError', () => {
  it('carries its code beside the message, printed as a plain Error', () => {
    const err = new AspireError('EXAMPLE', 'something went wrong', { cause: new Error('inner') });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('EXAMPLE');
    expect(err.message).toBe('something went wrong');
    expect(String(err)).toBe('Error: something went wrong');
    expect((err.cause as Error).message).toBe('inner');
    expect(isAspireError(err)).toBe(true);
    expect(isAspireError(err, 'EXAMPLE')).toBe(true);
    expect(isAspireError(err, 'OTHER')).toBe(false);
    expect(isAspireError(Object.assign(new Error('x'), { code: 'EXAMPLE' }))).toBe(false);
  });

  it('every string code a class declares is listed in docs/errors.md', () => {
    const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
    const codes = new Set<string>();
    for (const file of sources(join(root, 'packages'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/extends AspireError<'([A-Z]+)'>/g)) codes.add(m[1] ?? '');
    }
    expect(codes.size).toBeGreaterThanOrEqual(10);
    for (const code of codes) expect(doc, code).toContain(`\`${code}\``);
  });
});

describe('failedReply', () => {
  it('is the failed frame in wire key order, the table message by default', () => {
    expect(JSON.stringify(failedReply('r1', ErrorCode.EXEC_BUSY))).toBe(
      '{"id":"r1","resp":"failed","retcode":261,"message":"Too many commands running"}',
    );
    expect(JSON.stringify(failedReply('', ErrorCode.INVALID_PARAMS, 'Invalid params: /cmd'))).toBe(
      '{"id":"","resp":"failed","retcode":3021,"message":"Invalid params: /cmd"}',
    );
  });
});
