import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../src/net/outcome.ts';
import { checkServerList, serverUrls } from '../src/net/server-list.ts';

describe('server list', () => {
  it('build-time, then -S/metafile, then pushed; duplicates kept; host:port means http', () => {
    expect(
      serverUrls({
        build: 'lb.example.invalid:8080,10.0.0.1',
        servers: ['10.0.0.1:8180', 'https://a.invalid:8443'],
        pushed: ['10.0.0.1:8180'],
      }),
    ).toEqual([
      'http://lb.example.invalid:8080',
      'http://10.0.0.1:8180',
      'http://10.0.0.1:8180',
      'https://a.invalid:8443',
      'http://10.0.0.1:8180',
    ]);
  });

  it('an empty build-time default adds nothing', () => {
    expect(serverUrls({ build: '', servers: [], pushed: [] })).toEqual([]);
  });

  it("checks a list: the design's syntax with a trailing comma is fine; other schemes and credentials are not", () => {
    expect(checkServerList('192.168.9.1:1234,')).toEqual({ ok: true, entries: ['192.168.9.1:1234'] });
    expect(checkServerList('')).toEqual({ ok: true, entries: [] });
    expect(checkServerList('ftp://x:21')).toMatchObject({
      ok: false,
      error: expect.stringContaining('only http and https'),
    });
    expect(checkServerList('http://user:pw@x:1')).toMatchObject({
      ok: false,
      error: expect.stringContaining('credentials'),
    });
    expect(checkServerList('bad host:1')).toMatchObject({ ok: false });
  });
});

describe('Retry-After', () => {
  it('delay-seconds and HTTP dates', () => {
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(parseRetryAfter('5', now)).toBe(5000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
