// Issue 2: stop the server for a while. The agent keeps trying every server of its list, does
// not crash or grow without bound (bounded event queue, oldest dropped and counted); when the
// server is back, the pending job result and the queued events arrive.
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { startAspire, startBoot, waitForSubtask, waitUntil, type AspireHandle, type BootHandle } from '@aspire/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let srv: AspireHandle;
const boots: BootHandle[] = [];

/** A loopback port nothing listens on (taken, then released). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

beforeAll(async () => {
  srv = await startAspire();
});

afterAll(async () => {
  for (const b of boots) await b.stop();
  await srv?.stop();
  for (const b of boots) b.cleanup();
});

describe('server away', () => {
  it('keeps trying every server, stays bounded, and delivers pending results and events after the server returns', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const opts = {
      serverUrl: `${dead},${srv.url}`,
      enrollSecret: srv.enrollSecret,
      step: 3,
      config: { eventQueueMax: 3 },
    };
    let boot = await startBoot(opts);
    boots.push(boot);
    const meta = await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta() : undefined), {
      timeoutMs: 30_000,
      what: 'trusted',
    });
    const stateDir = boot.stateDir;
    const logFile = boot.logFile;
    // Let the first start's event reach the server, so the queue holds only outage events.
    await waitUntil(() => boot.readJournal()?.events.length === 0, { timeoutMs: 20_000, what: 'start event sent' });

    const created = await srv.api('POST', '/api/v1/server/task', {
      command: 'config',
      agents: [meta.agentsn],
      parameters: { tags: 'during=outage' },
    });
    const finished = await boot.waitForLog(/^job finished: success/, { timeoutMs: 30_000 });
    // Freeze the agent before its next push (at least 1 s after the last one) can carry the
    // result, take the server away, then let the agent go on: the result is pending.
    process.kill(boot.child.pid, 'SIGSTOP');
    await srv.child.stop(10_000);
    process.kill(boot.child.pid, 'SIGCONT');
    const jobId = String(finished.jobId);
    const rss0 = rssKb(boot.child.pid);
    const outageStart = Date.now();

    // Two BootAgent restarts while the server is away: stopped, started, stopped, started: four
    // events with the queue bounded at three, so the oldest is dropped and counted.
    for (let i = 0; i < 2; i++) {
      await boot.stop();
      boot = await startBoot({ ...opts, stateDir, logFile });
      boots.push(boot);
    }
    await waitUntil(
      () => {
        const fails = boot
          .logLines()
          .filter((l) => Date.parse(String(l.time)) > outageStart && /^status push to .* failed/.test(String(l.msg)));
        return (
          fails.filter((l) => l.server === dead).length >= 3 && fails.filter((l) => l.server === srv.url).length >= 3
        );
      },
      { timeoutMs: 40_000, what: 'repeated attempts on both servers' },
    );
    const j = boot.readJournal()!;
    expect(j.jobs.map((x) => x.id)).toContain(jobId);
    expect(j.events).toHaveLength(3);
    expect(j.eventsDropped).toBe(1);
    expect(j.events.map((e) => (e as { kind: string }).kind)).toEqual(['started', 'stopped', 'started']);
    expect(boot.child.proc.exitCode).toBeNull();
    // No unbounded growth: memory of the agent stays in the same range during the outage.
    expect(rssKb(boot.child.pid)).toBeLessThan(Math.max(rss0 * 2, 150_000));

    await srv.restart();
    const sub = await waitForSubtask(srv, created.body.id);
    expect(sub).toMatchObject({ state: 'SUCCESS', errcode: 0 });
    await waitUntil(() => boot.readJournal()?.events.length === 0 && boot.readJournal()?.eventsDropped === 0, {
      timeoutMs: 20_000,
      what: 'events acknowledged',
    });
    const ev = await srv.api('GET', `/api/v1/server/event?agentsn=${meta.agentsn}&limit=100`);
    expect(ev.status).toBe(200);
    const list = JSON.stringify(ev.body);
    // The first start's event and the newest three of the outage.
    const outage = (ev.body.events as { kind: string; localid: number; agent?: string }[]).filter(
      (e) => e.agent === 'BootAgent',
    );
    expect(outage.length).toBeGreaterThanOrEqual(4);
    expect(list).toContain('stopped');
    const ids = outage.map((e) => e.localid);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
