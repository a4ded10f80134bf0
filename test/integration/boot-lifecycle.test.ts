// Issue 2, end to end with real processes: the real aspire server on a free port and a real
// `boot` (step 1 s, temp state dir). The host appears online with the seed fields; a config
// task changes the step, the next pushes honour it, and the task ends SUCCESS with the agent's result.
import { startAspire, startBoot, waitForSubtask, waitUntil, type AspireHandle, type BootHandle } from '@aspire/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let srv: AspireHandle;
let boot: BootHandle;

beforeAll(async () => {
  srv = await startAspire();
  boot = await startBoot({
    serverUrl: srv.url,
    enrollSecret: srv.enrollSecret,
    step: 1,
    config: { logLevel: 'debug', tags: 'svc=test,cmpt=boot' },
  });
});

afterAll(async () => {
  await boot?.stop();
  await srv?.stop();
  boot?.cleanup();
});

/** Monotonic-ish wall times (ms) of the answered status pushes in the log. */
const pushTimes = () =>
  boot
    .logLines()
    .filter((l) => l.msg === 'status push answered')
    .map((l) => Date.parse(String(l.time)));

describe('boot against the real server', () => {
  it('registers, is trusted after its first push, and the host is online with the seed fields', async () => {
    const meta = await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta() : undefined), {
      timeoutMs: 30_000,
      what: 'trusted metafile',
    });
    expect(meta.agentsn).toMatch(/^[0-9a-f-]{36}$/);
    expect(meta.credential).toBeTruthy();
    expect(meta.servers).toEqual([srv.url]);
    const host = await waitUntil(
      async () => {
        const r = await srv.api('GET', `/api/v1/server/agent?agentsn=${meta.agentsn}`);
        return r.status === 200 && r.body.host?.status === 'online' ? r.body.host : undefined;
      },
      { timeoutMs: 30_000, what: 'host online' },
    );
    expect(host).toMatchObject({ agentsn: meta.agentsn, status: 'online' });
    expect(JSON.stringify(host)).toContain('bootagent-');
    expect(host.hostname).toBeTruthy();
    // Neither the credential nor the enrollment secret reaches the log (the config is logged at start).
    const { readFileSync } = await import('node:fs');
    const log = readFileSync(boot.logFile, 'utf8');
    expect(log).toContain('"enrollSecret":"[redacted]"');
    expect(log).not.toContain(meta.credential!);
    expect(log).not.toContain(srv.enrollSecret);
  });

  it('a config task changes the step; the task ends SUCCESS with the agent result; the next pushes honour the step', async () => {
    const agentsn = boot.readMeta()!.agentsn;
    await waitUntil(() => pushTimes().length >= 3, { timeoutMs: 20_000, what: 'a few pushes at step 1' });
    const created = await srv.api('POST', '/api/v1/server/task', {
      command: 'config',
      agents: [agentsn],
      parameters: { step: 3 },
    });
    expect(created.status).toBe(200);
    const taskId = created.body.id;
    const sub = await waitForSubtask(srv, taskId);
    expect(sub.state).toBe('SUCCESS');
    expect(sub.errcode).toBe(0);
    expect(sub.message).toContain('step=3');
    expect(boot.readMeta()!.step).toBe(3);

    const finished = boot.logLines().find((l) => l.msg === 'job finished: success: step=3');
    expect(finished).toBeTruthy();
    const after = Date.parse(String(finished!.time));
    await waitUntil(() => pushTimes().filter((t) => t > after).length >= 3, {
      timeoutMs: 30_000,
      what: 'three pushes after the config job',
    });
    const later = pushTimes().filter((t) => t > after);
    for (let i = 1; i < later.length; i++) expect(later[i]! - later[i - 1]!).toBeGreaterThanOrEqual(2900);
    // Before the job the pushes came every second.
    const before = pushTimes().filter((t) => t < after);
    expect(before[before.length - 1]! - before[before.length - 2]!).toBeLessThan(2500);
  });

  it('a config task with svrlist: the pushed list is kept after -S, persisted, and used when the servers before it fail', async () => {
    const { createServer } = await import('node:http');
    const seen: string[] = [];
    const spare = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (req.url === '/agent/status') seen.push(JSON.parse(body).agentsn);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ status: 0, jobs: [] }));
      });
    });
    await new Promise<void>((r) => spare.listen(0, '127.0.0.1', r));
    try {
      const spareAddr = `127.0.0.1:${(spare.address() as { port: number }).port}`;
      const agentsn = boot.readMeta()!.agentsn;
      const created = await srv.api('POST', '/api/v1/server/task', {
        command: 'config',
        agents: [agentsn],
        parameters: { svrlist: `${spareAddr},`, step: 1 },
      });
      expect(created.status).toBe(200);
      expect((await waitForSubtask(srv, created.body.id)).state).toBe('SUCCESS');
      expect(boot.readMeta()).toMatchObject({ servers: [srv.url], pushedServers: [spareAddr], step: 1 });
      expect(seen).toHaveLength(0);
      // The real server goes away: the agent falls through to the pushed server.
      await srv.child.stop(10_000);
      await waitUntil(() => seen.length >= 2, { timeoutMs: 30_000, what: 'pushes to the pushed server' });
      expect(new Set(seen)).toEqual(new Set([agentsn]));
    } finally {
      spare.closeAllConnections();
      await new Promise<void>((r) => spare.close(() => r()));
    }
  });
});
