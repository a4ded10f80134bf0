import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import {
  makeTestCa,
  startAspire,
  startBasicAgent,
  waitUntil,
  type AspireHandle,
  type BasicAgentHandle,
  type TestCa,
} from '@aspire/testing';

// Periodic tasks on a real agent: crontab file and server-added tasks, results stored by the hub.
let ca: TestCa;
let srv: AspireHandle;
let agent: BasicAgentHandle;
const HOST = 'cron-host';

interface Result {
  name: string;
  started_ms: number;
  duration_ms: number;
  retcode: number;
  output: string;
  skipped: boolean;
}
const results = async (name?: string): Promise<Result[]> => {
  const r = await srv.api(
    'GET',
    `/api/v1/server/polaris/task-results?host=${HOST}${name ? `&name=${encodeURIComponent(name)}` : ''}&limit=1000`,
  );
  expect(r.status).toBe(200);
  return r.body.items;
};

beforeAll(async () => {
  ca = makeTestCa();
  srv = await startAspire({ hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile } });
  agent = await startBasicAgent({
    port: srv.hubAddress!.port,
    caFile: ca.caCertFile,
    hostname: HOST,
    crontab: [
      '# docs/design.md §4 format: seconds first, then user and command',
      '*/2 * * * * * root echo tick-$(date +%s); sleep 3',
      '*/2 * * * * root-but-bad-schedule',
      '99 * * * * * root echo never',
      '* * * * * * nobody id -u',
      'GREETING="hello from cron"',
      '* * * * * * nobody echo "$GREETING as $(id -un)"',
    ].join('\n'),
  });
});

afterAll(async () => {
  await agent?.stop();
  // The restarted agent reused the first one's dir, which its stop() leaves alone.
  if (agent) rmSync(agent.dir, { recursive: true, force: true });
  await srv?.stop();
  ca?.cleanup();
});

describe('periodic tasks', () => {
  it('a */2 task runs on even seconds for 10 s and never overlaps its slow run; bad lines are reported, the rest run', async () => {
    // Line 2 sleeps 3 s every 2 s: every other fire must be skipped, never run alongside.
    await waitUntil(async () => (await results('crontab:2')).length >= 6, {
      timeoutMs: 20_000,
      what: '10 s of */2 fires',
    });
    const r = await results('crontab:2');
    expect(r.every((x) => (x.started_ms / 1000) % 2 === 0)).toBe(true);
    const runs = r.filter((x) => !x.skipped);
    const skipped = r.filter((x) => x.skipped);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(skipped.length).toBeGreaterThanOrEqual(2);
    for (const x of runs) {
      expect(x.retcode).toBe(0);
      expect(x.output).toMatch(/^tick-\d+\n$/);
      expect(x.duration_ms).toBeGreaterThanOrEqual(2900);
    }
    // No two runs overlap: each starts after the previous one ended.
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i]!.started_ms).toBeGreaterThanOrEqual(runs[i - 1]!.started_ms + runs[i - 1]!.duration_ms);
    }
    // The every-second task as nobody ran too, despite the bad lines around it.
    // (An every-second task's fire that lands while its previous run is still going on a loaded
    // machine is reported skipped, with no output: look at runs only.)
    const nobody = (await results('crontab:5')).filter((x) => !x.skipped);
    expect(nobody.length).toBeGreaterThan(0);
    expect(nobody[0]!.output.trim()).toBe(readFileSync('/etc/passwd', 'utf8').match(/^nobody:[^:]*:(\d+):/m)![1]);

    const list = await srv.api('GET', `/api/v1/server/polaris/tasks?host=${HOST}`);
    expect(list.status).toBe(200);
    // Issue 13 item 1: the envelope says success; the agent's own message is in the per-host entry.
    expect(list.body.message).toBe('success');
    expect(list.body.response[0]).toMatchObject({ host: HOST, message: expect.any(String) });
    expect(list.body.data.crontab.errors.map((e: { line: number }) => e.line)).toEqual([3, 4]);
    expect(list.body.data.tasks.map((t: { name: string }) => t.name).sort()).toEqual([
      'crontab:2',
      'crontab:5',
      'crontab:7',
    ]);
    // A NAME=value line sets the environment of the task lines below it.
    const greeting = await waitUntil(async () => (await results('crontab:7')).find((x) => !x.skipped), {
      what: 'a crontab:7 run',
    });
    expect(greeting).toMatchObject({ retcode: 0, output: 'hello from cron as nobody\n' });
    expect(agent.child.output).toMatch(/crontab line 3 invalid/);
  });

  it('server-added tasks run, survive an agent restart, and can be removed', async () => {
    const add = await srv.api('POST', '/api/v1/server/polaris/tasks', {
      host: HOST,
      name: 'hello',
      line: '* * * * * * root echo hello',
    });
    expect(add.status).toBe(200);
    expect(add.body).toMatchObject({ resp: 'success' });
    const bad = await srv.api('POST', '/api/v1/server/polaris/tasks', { host: HOST, name: 'bad', line: '* * * root' });
    expect(bad.body).toMatchObject({ resp: 'failed', retcode: ErrorCode.CHANNEL_INVALID_CRON });
    await waitUntil(async () => (await results('hello')).some((x) => x.output === 'hello\n'), {
      timeoutMs: 15_000,
      what: 'hello task run',
    });
    expect(JSON.parse(readFileSync(join(agent.stateDir, 'tasks.json'), 'utf8')).tasks).toEqual([
      { name: 'hello', line: '* * * * * * root echo hello' },
    ]);

    // Restart the agent on the same dir: the task is still there.
    await agent.child.stop();
    agent = await startBasicAgent({
      port: srv.hubAddress!.port,
      caFile: ca.caCertFile,
      hostname: HOST,
      dir: agent.dir,
      crontab: '',
    });
    const list = await srv.api('GET', `/api/v1/server/polaris/tasks?host=${HOST}`);
    expect(list.body.data.tasks.map((t: { name: string }) => t.name)).toEqual(['hello']);

    // SIGHUP re-reads the crontab.
    writeFileSync(agent.crontabFile, '0 0 * * * * root echo hourly\n');
    agent.child.kill('SIGHUP');
    await waitUntil(
      async () =>
        (await srv.api('GET', `/api/v1/server/polaris/tasks?host=${HOST}`)).body.data.tasks.some(
          (t: { name: string }) => t.name === 'crontab:1',
        ),
      { what: 'crontab reloaded' },
    );

    const rm = await srv.api('DELETE', `/api/v1/server/polaris/tasks?host=${HOST}&name=hello`);
    expect(rm.body).toMatchObject({ resp: 'success' });
    const again = await srv.api('DELETE', `/api/v1/server/polaris/tasks?host=${HOST}&name=hello`);
    expect(again.body).toMatchObject({ resp: 'failed', retcode: ErrorCode.CHANNEL_NO_SUCH_TASK });
    expect((await srv.api('GET', '/api/v1/server/polaris/tasks?host=nowhere')).status).toBe(404);
  });
});
