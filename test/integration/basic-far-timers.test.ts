import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '@aspire/agent-core';
import {
  makeTestCa,
  startAspire,
  startBasicAgent,
  waitUntil,
  type AspireHandle,
  type BasicAgentHandle,
  type TestCa,
} from '@aspire/testing';

// Issue 16 item 1: a timer further away than Node's setTimeout can hold (2^31-1 ms, 24.8 days)
// used to fire after 1 ms, and the cron scheduler ran such a task in a hot loop.

describe('a real-clock timer of 30 days', () => {
  it('does not fire within 1 s and raises no TimeoutOverflowWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    let fired = false;
    const far = realClock.setTimeout(() => (fired = true), 30 * 86_400_000);
    const sleeper = realClock.setTimeout(() => undefined, 365 * 86_400_000);
    try {
      await new Promise((r) => setTimeout(r, 1000));
      expect(fired).toBe(false);
      expect(warnings.filter((w) => w.startsWith('TimeoutOverflowWarning'))).toEqual([]);
    } finally {
      far.cancel();
      sleeper.cancel();
      process.off('warning', onWarning);
    }
  });
});

describe('a BasicAgent with far-away crontab lines', () => {
  let ca: TestCa;
  let srv: AspireHandle;
  let agent: BasicAgentHandle;
  const HOST = 'far-cron-host';

  // A date about 60 days ahead, so one line is always beyond 24.8 days whatever today is.
  const ahead = new Date(Date.now() + 60 * 86_400_000);
  const crontab = [
    '0 0 12 L * ? root echo last-day',
    '0 0 0 1 1 * root echo yearly',
    `0 0 0 ${ahead.getUTCDate()} ${ahead.getUTCMonth() + 1} ? root echo sixty-days`,
    '* * * * * * root echo every-second',
    '* * * * * * echo hi',
  ].join('\n');

  beforeAll(async () => {
    ca = makeTestCa();
    srv = await startAspire({ hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile } });
    agent = await startBasicAgent({ port: srv.hubAddress!.port, caFile: ca.caCertFile, hostname: HOST, crontab });
  });

  afterAll(async () => {
    await agent?.stop();
    await srv?.stop();
    ca?.cleanup();
  });

  const results = async (): Promise<{ name: string; output: string }[]> => {
    const r = await srv.api('GET', `/api/v1/server/polaris/task-results?host=${HOST}&limit=1000`);
    expect(r.status).toBe(200);
    return r.body.items;
  };

  it('runs them 0 times over several seconds while an every-second line runs, and logs no TimeoutOverflowWarning; a line without a user is refused', async () => {
    // The control line proves the scheduler is live and results reach the server.
    await waitUntil(async () => (await results()).filter((x) => x.name === 'crontab:4').length >= 4, {
      timeoutMs: 30_000,
      what: 'four every-second runs',
    });
    const far = (await results()).filter((x) => x.name !== 'crontab:4');
    expect(far).toEqual([]);

    const list = await srv.api('GET', `/api/v1/server/polaris/tasks?host=${HOST}`);
    expect(list.status).toBe(200);
    const tasks: { name: string; next?: string }[] = list.body.data.tasks;
    const next = new Map(tasks.map((t) => [t.name, t.next]));
    for (const name of ['crontab:1', 'crontab:2', 'crontab:3'])
      expect(Date.parse(next.get(name)!)).toBeGreaterThan(Date.now());

    expect(agent.child.output).not.toMatch(/TimeoutOverflowWarning/);
    // A line without a user (its command word taken as the user) is refused, naming the line.
    expect(list.body.data.crontab.errors).toEqual([
      {
        line: 5,
        text: '* * * * * * echo hi',
        error: 'user "echo" is not an account on this host (a task line is: schedule, user, command)',
      },
    ]);
    expect(tasks.map((t) => t.name).sort()).toEqual(['crontab:1', 'crontab:2', 'crontab:3', 'crontab:4']);
  });
});
