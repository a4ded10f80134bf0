import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realClock, silentLogger } from '@aspire/agent-core';
import { ChannelClient, resolveAll } from '@aspire/basic-agent';
import { createCommandHub, type CommandHub } from '../../packages/server/src/hub/index.ts';
import { openSqliteStore, type SqliteStore } from '../../packages/server/src/store/sqlite-store.ts';
import { checkHubOptions } from '../../packages/server/src/hub/hub-options.ts';
import { makeHostKeyAndCsr, makeTestCa, sharedTestHostCa, waitUntil, type TestCa } from '@aspire/testing';
import { hostCaFromPem } from '../../packages/server/src/trust/host-ca.ts';

// Seed 003 step 1: one name, several addresses, tried in turn. The hub (real TLS, in-process)
// listens on 127.0.0.1 only; the name's first addresses (127.0.0.2, 127.0.0.3) refuse.
let ca: TestCa;
let hub: CommandHub;
let store: SqliteStore;
let port: number;
let clientIdentity: { cert: string; key: string };

beforeAll(async () => {
  ca = makeTestCa({ names: ['config.example.test', 'localhost'] });
  const options = checkHubOptions({ listen: '127.0.0.1:0', cert: ca.serverCertFile, key: ca.serverKeyFile });
  store = openSqliteStore(':memory:');
  // The hub requires a client certificate of the host CA for a registered host (docs/security.md).
  const hostCa = sharedTestHostCa();
  const issuer = hostCaFromPem(hostCa.cert, readFileSync(hostCa.keyFile, 'utf8'), hostCa.certFile);
  await store.register({
    agentsn: 'sn-multi-addr',
    hostname: 'multi-addr',
    ip: '127.0.0.1',
    newHash: 'h',
    freshAgentsn: 'x',
    now: Date.now(),
  });
  const { keyFile, csr } = makeHostKeyAndCsr(ca.dir, 'sn-multi-addr');
  clientIdentity = {
    cert: await issuer.issue(csr, 'sn-multi-addr', Date.now(), 3600),
    key: readFileSync(keyFile, 'utf8'),
  };
  hub = createCommandHub({
    options,
    clock: realClock,
    logger: silentLogger(),
    store,
    keepResults: 10,
    hostCaCerts: [hostCa.cert],
  });
  ({ port } = await hub.start());
});
afterAll(async () => {
  await hub?.stop();
  store?.close();
  ca?.cleanup();
});

describe('channel client address list', () => {
  it('resolves a name to every address', async () => {
    const all = await resolveAll('localhost', 1);
    expect(all.length).toBeGreaterThanOrEqual(1);
    expect(all.every((e) => e.port === 1)).toBe(true);
    expect(await resolveAll('127.0.0.9', 5)).toEqual([{ address: '127.0.0.9', port: 5 }]);
  });

  it('tries each address in turn and connects to the one that answers, checking the name', async () => {
    // The client's own log says which addresses it tried.
    const lines: { msg: string; address?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const stop = new AbortController();
    const client = new ChannelClient(
      {
        serverHost: 'config.example.test',
        serverPort: port,
        ca: ca.caCert,
        hostname: 'multi-addr',
        clientIdentity: () => clientIdentity,
        version: 'test',
        heartbeatMs: 1000,
        connectTimeoutMs: 2000,
        backoffBaseMs: 50,
        backoffMaxMs: 200,
        resultQueueMax: 10,
      },
      {
        clock: realClock,
        logger,
        handle: async (f) => ({
          id: (f as { id: string }).id,
          resp: 'success',
          retcode: 0,
          message: 'Normal termination',
          data: 'pong',
        }),
        resolve: async (_h, p) => ['127.0.0.2', '127.0.0.3', '127.0.0.1'].map((address) => ({ address, port: p })),
      },
    );
    const running = client.run(stop.signal);
    await waitUntil(() => hub.registry.find('multi-addr') && lines.some((l) => l.msg === 'channel: connected'), {
      what: 'agent connected',
    });
    const refused = lines.filter((l) => /trying next address/.test(l.msg)).map((l) => l.address);
    expect(refused.slice(0, 2)).toEqual(['127.0.0.2', '127.0.0.3']);
    const r = await hub.registry.find('multi-addr')!.request({ id: 'q1', method: 'sync.bash', cmd: 'x' }, 5000);
    expect(r).toMatchObject({ id: 'q1', resp: 'success', data: 'pong' });
    stop.abort();
    await running;
  });
});
