// Pure helpers of the web console (packages/server/console/src/lib): no DOM needed.
import { describe, expect, it } from 'vitest';
import { guessFromFile } from '../console/src/lib/package-name.ts';
import { formatUtc, toDate } from '../console/src/lib/time.ts';
import { createStore } from '../console/src/lib/store.ts';

describe('guessFromFile (upload form prefill)', () => {
  it.each([
    ['FoobarAgent-1.2.3-rc1.x86_64.rpm', { name: 'FoobarAgent', version: '1.2.3-rc1', arch: 'x86_64' }],
    ['MiniAgent-0.1.0.tar.gz', { name: 'MiniAgent', version: '0.1.0' }],
    ['BasicAgent-0.1.1-1.aarch64.rpm', { name: 'BasicAgent', version: '0.1.1-1', arch: 'aarch64' }],
    ['tool.tgz', { name: 'tool' }],
    ['../../etc/passwd', {}],
  ])('%s', (file, want) => {
    expect(guessFromFile(file)).toEqual(want);
  });
});

describe('times (stored UTC)', () => {
  it('reads unix ms, digit strings and ISO 8601; rejects garbage', () => {
    const ms = Date.UTC(2026, 10, 25, 9, 0, 0);
    expect(toDate(ms)?.getTime()).toBe(ms);
    expect(toDate(String(ms))?.getTime()).toBe(ms);
    expect(toDate('2026-11-25T09:00:00Z')?.getTime()).toBe(ms);
    expect(toDate('not a time')).toBeNull();
    expect(toDate(null)).toBeNull();
    expect(formatUtc(ms)).toBe('2026-11-25T09:00:00.000Z');
  });
});

describe('createStore', () => {
  it('notifies subscribers of changes only, until they unsubscribe', () => {
    const s = createStore(1);
    const seen: number[] = [];
    const off = s.subscribe((v) => seen.push(v));
    s.set(1);
    s.set(2);
    off();
    s.set(3);
    expect(seen).toEqual([2]);
    expect(s.get()).toBe(3);
  });
});
