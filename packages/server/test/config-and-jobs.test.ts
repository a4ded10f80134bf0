// Config checked at the edge, and buildServer's background jobs on a ManualClock (offline
// sweep, scheduler) through app.inject: no network, no real time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, silentLogger } from '@aspire/agent-core';
import { ManualClock } from '@aspire/testing';
import { buildServer, type AspireServer } from '../src/app.ts';
import { checkConfig, parseListen } from '../src/config.ts';
import { parseRange } from '../src/routes/agent-package.ts';
import { packageArch, packageOs } from '../src/packages-match.ts';
import { sha256Hex } from '../src/http/secrets.ts';
import { TokenBucket } from '../src/http/rate-limit.ts';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite-store.ts';

describe('server config', () => {
  it('lists every bad key and clamps numbers to their bounds', () => {
    let err: unknown;
    try {
      checkConfig(
        {
          listen: 'nowhere',
          bogus: 1,
          logLevel: 'loud',
          rateLimit: { statusPerSec: 'x', extra: 1 },
          enrollSecret: 'short',
          tlsCert: '/a',
        },
        'aspire.json',
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    for (const k of [
      'bogus: unknown key',
      'listen:',
      'logLevel:',
      'rateLimit.statusPerSec:',
      'rateLimit.extra: unknown key',
      'enrollSecret:',
      'tlsCert, tlsKey',
    ])
      expect(problems).toContain(k);
    const { config, notes } = checkConfig({ offlineMissedSteps: 0, schedulerIntervalMs: 1 }, 'x');
    expect(config.offlineMissedSteps).toBe(1);
    expect(config.schedulerIntervalMs).toBe(10);
    expect(notes.length).toBe(2);
    expect(Object.isFrozen(config)).toBe(true);
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen('127.0.0.1:70000')).toBeUndefined();
  });

  it('range parsing, package os/arch matching, token bucket', async () => {
    expect(parseRange(undefined, 10)).toBe('all');
    expect(parseRange('bytes=2-4', 10)).toEqual({ start: 2, end: 4 });
    expect(parseRange('bytes=-3', 10)).toEqual({ start: 7, end: 9 });
    expect(parseRange('bytes=5-', 10)).toEqual({ start: 5, end: 9 });
    expect(parseRange('bytes=10-', 10)).toBeUndefined();
    expect(parseRange('bytes=0-1,4-5', 10)).toBe('all');
    expect(packageOs('Linux 6.18.44-fc')).toBe('linux');
    expect(packageArch('x64')).toBe('x86_64');
    expect(packageArch('aarch64')).toBe('aarch64');
    const clock = new ManualClock();
    const b = new TokenBucket(2, 2, clock);
    expect([b.take(), b.take()]).toEqual([0, 0]);
    expect(b.take()).toBe(500);
    await clock.advance(500);
    expect(b.take()).toBe(0);
  });
});

describe('background jobs on a ManualClock', () => {
  let dir: string;
  let store: SqliteStore;
  let server: AspireServer | undefined;
  afterEach(async () => {
    await server?.stop();
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the offline sweep marks a host offline after 3 missed steps; the dashboard follows', async () => {
    dir = mkdtempSync(join(tmpdir(), 'aspire-unit-'));
    store = openSqliteStore(join(dir, 'aspire.db'));
    const token = 'asp_unit-token-1234567890';
    await store.createToken('t', sha256Hex(token), 0);
    const clock = new ManualClock();
    const { config } = checkConfig({ dataDir: dir, offlineSweepSec: 1, dashboardIntervalSec: 1 }, 'test');
    server = await buildServer({ store, clock, logger: silentLogger(), config });
    server.start();
    const reg = (
      await server.app.inject({ method: 'POST', url: '/agent/register', payload: { hostname: 'h', agentsn: 'sn-1' } })
    ).json();
    const push = await server.app.inject({
      method: 'POST',
      url: '/agent/status',
      headers: { 'x-aspire-credential': reg.credential },
      payload: {
        hostname: 'h',
        agentsn: 'sn-1',
        version: '1',
        uptime: 1,
        timestamp: 1,
        step: 10,
        agents: [],
        jobs: [],
        events: [],
        eventsDropped: 4,
        os: 'linux',
        arch: 'x86_64',
      },
    });
    expect(push.statusCode).toBe(200);
    const host = async () =>
      (
        await server!.app.inject({
          method: 'GET',
          url: '/api/v1/server/agent?agentsn=sn-1',
          headers: { authorization: `Bearer ${token}` },
        })
      ).json().host;
    await clock.advance(29_000);
    expect((await host()).status).toBe('online');
    await clock.advance(2_000);
    expect((await host()).status).toBe('offline');
    const dash = (
      await server.app.inject({
        method: 'GET',
        url: '/api/v1/server/dashboard',
        headers: { authorization: `Bearer ${token}` },
      })
    ).json();
    expect(dash.dashboard.hosts).toMatchObject({ total: 1, online: 0, offline: 1 });
    const ev = (
      await server.app.inject({
        method: 'GET',
        url: '/api/v1/server/event?agentsn=sn-1',
        headers: { authorization: `Bearer ${token}` },
      })
    ).json();
    expect(ev.events[0]).toMatchObject({ category: 0, kind: 'events_dropped', data: { dropped: 4 } });
  });
});
