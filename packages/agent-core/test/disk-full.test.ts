import { DiskFullWatch, isDiskFull } from '@aspire/agent-core';
import { describe, expect, it } from 'vitest';

const errno = (code: string) => Object.assign(new Error(code), { code });

describe('isDiskFull', () => {
  it('is true for ENOSPC and EDQUOT alike, false for other errors and non-errors', () => {
    expect(isDiskFull(errno('ENOSPC'))).toBe(true);
    expect(isDiskFull(errno('EDQUOT'))).toBe(true);
    expect(isDiskFull(errno('EACCES'))).toBe(false);
    expect(isDiskFull(new Error('no space left on device'))).toBe(false);
    expect(isDiskFull(undefined)).toBe(false);
    expect(isDiskFull(null)).toBe(false);
    expect(isDiskFull('ENOSPC')).toBe(false);
  });
});

describe('DiskFullWatch', () => {
  it('reports the start of a full period once and its end once', () => {
    const w = new DiskFullWatch();
    expect(w.succeeded()).toBe(false);
    expect(w.failed(errno('EACCES'), 1)).toBe(false);
    expect(w.full).toBe(false);
    expect(w.failed(errno('ENOSPC'), 10)).toBe(true);
    expect(w.failed(errno('EDQUOT'), 20)).toBe(false);
    expect(w.full).toBe(true);
    expect(w.since).toBe(10);
    expect(w.succeeded()).toBe(true);
    expect(w.succeeded()).toBe(false);
    expect(w.full).toBe(false);
    expect(w.failed(errno('ENOSPC'), 30)).toBe(true);
  });

  it('takes what counts as full from the caller', () => {
    const w = new DiskFullWatch((err) => (err as { errcode?: number }).errcode === 13);
    expect(w.failed(errno('ENOSPC'), 1)).toBe(false);
    expect(w.failed(Object.assign(new Error('database or disk is full'), { errcode: 13 }), 2)).toBe(true);
    expect(w.since).toBe(2);
  });
});
