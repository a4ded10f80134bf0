// The server over HTTPS (config tlsCert/tlsKey) with a real boot that verifies it against its
// configured CA: registration, pushes and a task work; a client without the CA is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeTestCa,
  startAspire,
  startBoot,
  waitUntil,
  type AspireHandle,
  type BootHandle,
  type TestCa,
} from '@aspire/testing';

let ca: TestCa;
let srv: AspireHandle;
let boot: BootHandle | undefined;

beforeAll(async () => {
  ca = makeTestCa();
  srv = await startAspire({ config: { tlsCert: ca.serverCertFile, tlsKey: ca.serverKeyFile }, caCert: ca.caCert });
});
afterAll(async () => {
  await boot?.stop();
  boot?.cleanup();
  await srv?.stop();
  ca?.cleanup();
});

describe('aspire over HTTPS', () => {
  it('listens on https and verifies: a client without the CA is refused, one with it gets the envelope', async () => {
    expect(srv.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    await expect(fetch(`${srv.url}/api/v1/server/openapi.json`)).rejects.toThrow();
    const res = await srv.api('GET', '/api/v1/server/host');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 0, count: 0 });
  });

  it('a real boot with the CA registers, pushes, and runs a task over https', async () => {
    boot = await startBoot({
      serverUrl: srv.url,
      enrollSecret: srv.enrollSecret,
      step: 1,
      config: { ca: ca.caCertFile },
    });
    const meta = await waitUntil(() => (boot!.readMeta()?.trusted ? boot!.readMeta() : undefined), {
      timeoutMs: 20_000,
      what: 'registered over https',
    });
    const created = await srv.api('POST', '/api/v1/server/task', {
      command: 'config',
      agents: [meta.agentsn],
      parameters: { step: 1 },
    });
    expect(created.status).toBe(200);
    const t = await waitUntil(
      async () => {
        const x = (await srv.api('GET', `/api/v1/server/task?id=${created.body.id}`)).body;
        return x.task.status === 'COMPLETE' ? x : undefined;
      },
      { timeoutMs: 20_000, what: 'task over https' },
    );
    expect(t.subtasks[0]).toMatchObject({ state: 'SUCCESS', errcode: 0 });
    expect((await srv.api('GET', `/api/v1/server/agent?agentsn=${meta.agentsn}`)).body.host.status).toBe('online');
  });
});
