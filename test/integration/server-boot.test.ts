// The real aspire server with real boot processes: the docs/design.md §5 task engine end to end.
// Three boots (tags svc=ecs / svc=rds / svc=ecs,cmpt=DB), step 1 s.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import { startAspire, startBoot, waitUntil, type AspireHandle, type BootHandle } from '@aspire/testing';
import { packFixture } from '../../packages/testing/fixtures/pack-fixture.ts';

let srv: AspireHandle;
const boots: BootHandle[] = [];
const sn: string[] = [];
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-srvboot-'));
  srv = await startAspire({ config: { taskTtrSec: 30 } });
  const tags = ['svc=ecs', 'svc=rds', 'svc=ecs,cmpt=DB'];
  for (const t of tags) {
    boots.push(await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step: 1, config: { tags: t } }));
  }
  for (const b of boots) {
    const meta = await waitUntil(() => (b.readMeta()?.trusted ? b.readMeta() : undefined), {
      timeoutMs: 20_000,
      what: 'boot registered and trusted',
    });
    sn.push(meta.agentsn);
  }
});

afterAll(async () => {
  // Sub-agents outlive their BootAgent by design: kill the ones the hosts reported.
  const pids: number[] = [];
  for (const s of sn) {
    const h = await srv?.api('GET', `/api/v1/server/agent?agentsn=${s}`).catch(() => undefined);
    for (const a of h?.body?.host?.agents ?? []) if (typeof a.pid === 'number') pids.push(a.pid);
  }
  for (const b of boots) {
    await b.stop().catch(() => {});
    b.cleanup();
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await srv?.stop();
  rmSync(work, { recursive: true, force: true });
});

const api = (m: string, p: string, b?: unknown) => srv.api(m, p, b);
async function task(id: number) {
  return (await api('GET', `/api/v1/server/task?id=${id}`)).body;
}
async function waitTask(id: number, pred: (t: any) => boolean, what: string, timeoutMs = 30_000) {
  return waitUntil(
    async () => {
      const t = await task(id);
      return pred(t) ? t : undefined;
    },
    { timeoutMs, what, intervalMs: 200 },
  );
}
async function create(body: Record<string, unknown>): Promise<number> {
  const r = await api('POST', '/api/v1/server/task', body);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.id as number;
}

describe('server + real boot processes', () => {
  it('hosts appear online with the seed fields; a config task changes the step and ends SUCCESS', async () => {
    const h = (await api('GET', `/api/v1/server/agent?agentsn=${sn[0]}`)).body.host;
    expect(h).toMatchObject({
      agentsn: sn[0],
      status: 'online',
      ipaddr: '127.0.0.1',
      step: 1,
      reported_tags: 'svc=ecs',
    });
    expect(h.os).toMatch(/^linux/i);
    expect(h.hostname.length).toBeGreaterThan(0);
    expect(h.curvers.length).toBeGreaterThan(0);
    expect(['x86_64', 'aarch64']).toContain(h.arch);
    const id = await create({ command: 'config', agents: [sn[0]], parameters: { step: 2 } });
    const t = await waitTask(id, (x) => x.task.status === 'COMPLETE', 'config task complete');
    expect(t.subtasks[0]).toMatchObject({ state: 'SUCCESS', errcode: 0 });
    await waitUntil(async () => (await api('GET', `/api/v1/server/agent?agentsn=${sn[0]}`)).body.host.step === 2, {
      what: 'step 2 reported',
    });
    const back = await create({ command: 'config', agents: [sn[0]], parameters: { step: 1 } });
    await waitTask(back, (x) => x.task.status === 'COMPLETE', 'step back to 1');
  });

  it('upload a package, install it by name on two real agents: both install it, complete = 2', async () => {
    const packed = await packFixture({ fixture: 'idle-agent', name: 'IdleAgent', version: '1.0.0', outDir: work });
    const body = (await import('node:fs')).readFileSync(packed.file);
    const arch = (await api('GET', `/api/v1/server/agent?agentsn=${sn[0]}`)).body.host.arch;
    const up = await fetch(
      `${srv.url}/api/v1/server/package?${new URLSearchParams({ name: 'IdleAgent', version: '1.0.0', os: 'linux', arch, file: 'IdleAgent-1.0.0.tar.gz' })}`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/octet-stream' },
        body,
      },
    );
    expect(up.status).toBe(200);
    expect(((await up.json()) as any).package.sha256).toBe(packed.sha256);
    const id = await create({
      command: 'install',
      agents: [sn[0], sn[1]],
      parameters: { name: 'IdleAgent', version: '1.0.0' },
    });
    const t = await waitTask(id, (x) => x.task.complete === 2, 'install complete = 2', 45_000);
    expect(t.subtasks.map((s: any) => [s.state, s.errcode])).toEqual([
      ['SUCCESS', 0],
      ['SUCCESS', 0],
    ]);
    for (const s of [sn[0], sn[1]]) {
      await waitUntil(
        async () => {
          const h = (await api('GET', `/api/v1/server/agent?agentsn=${s}`)).body.host;
          return h.agents.find((a: any) => a.name === 'IdleAgent' && a.version === '1.0.0' && a.status === 'running');
        },
        { what: `IdleAgent running on ${s}` },
      );
    }
    const dash = await waitUntil(
      async () => {
        const d = (await api('GET', '/api/v1/server/dashboard')).body.dashboard;
        return d?.agents.find((a: any) => a.name === 'IdleAgent' && a.online === 2) ? d : undefined;
      },
      { what: 'dashboard counts IdleAgent' },
    );
    expect(dash.hosts.online).toBeGreaterThanOrEqual(3);
    const un = await create({ command: 'uninstall', agents: [sn[0], sn[1]], parameters: { name: 'IdleAgent' } });
    await waitTask(un, (x) => x.task.complete === 2, 'uninstall complete', 45_000);
  });

  it('a tag task inside its window reaches the matching agent once; one outside the window reaches nobody', async () => {
    const now = Date.now() / 1000;
    const past = await create({
      command: 'config',
      tags: 'svc=ecs',
      window: { start: now - 60, end: now - 30 },
      parameters: { step: 1 },
    });
    const id = await create({
      command: 'config',
      tags: 'cmpt=DB',
      window: { start: now - 1, end: now + 8 },
      parameters: { step: 1 },
    });
    const t = await waitTask(id, (x) => x.task.complete >= 1, 'tag task delivered');
    expect(t.subtasks.map((s: any) => s.agentsn)).toEqual([sn[2]]);
    expect(t.subtasks[0]).toMatchObject({ state: 'SUCCESS', attempts: 1 });
    // After the window closes the task completes with that single subtask.
    const done = await waitTask(id, (x) => x.task.status === 'COMPLETE', 'tag window closed', 20_000);
    expect(done.task).toMatchObject({ count: 1, complete: 1 });
    const p = await task(past);
    expect(p.task.count).toBe(0);
    expect(p.subtasks).toEqual([]);
  });

  it('batch 1 over three hosts runs them one after another', async () => {
    const id = await create({ command: 'config', agents: sn, batch: 1, parameters: { step: 1 } });
    const t = await waitTask(id, (x) => x.task.status === 'COMPLETE', 'batch task complete', 45_000);
    // Issue 13 item 8: times are ISO 8601 UTC strings.
    const ms = (iso: string) => Date.parse(iso);
    const subs = [...t.subtasks].sort((a: any, b: any) => ms(a.reserved_at) - ms(b.reserved_at));
    expect(subs.every((s: any) => s.state === 'SUCCESS')).toBe(true);
    // Each host was handed its job only after the previous one had reported.
    for (let i = 1; i < subs.length; i++)
      expect(ms(subs[i].reserved_at)).toBeGreaterThanOrEqual(ms(subs[i - 1].gmt_modify));
  });

  it('retry 2 on a failing job: three attempts, then BURIED with TASK_RETRIES_EXHAUSTED (issue 13: was FAILED)', async () => {
    const id = await create({
      command: 'install',
      agents: [sn[1]],
      parameters: {
        name: 'Broken',
        version: '1',
        url: 'http://127.0.0.1:1/Broken-1.tar.gz',
        checksum: `SHA256:${'0'.repeat(64)}`,
      },
      retry: { count: 2, interval: 0.5 },
    });
    // Retries exhausted: BURIED (a kick revives it; taskBuriedTtlSec fails it); max_errors 0 halts the task.
    const t = await waitTask(id, (x) => x.subtasks[0]?.state === 'BURIED', 'retry task buried', 45_000);
    expect(t.subtasks[0]).toMatchObject({ state: 'BURIED', attempts: 3, errcode: ErrorCode.TASK_RETRIES_EXHAUSTED });
    expect(t.task.status).toBe('HALTED');
    expect(t.subtasks[0].message).toMatch(new RegExp(`last: ${ErrorCode.JOB_DOWNLOAD_FAILED} `));
  });

  it('revoke stops what has not started; an expired task fails with TASK_EXPIRED', async () => {
    const id = await create({ command: 'config', agents: sn, delay: 60, parameters: { step: 1 } });
    expect((await task(id)).subtasks.every((s: any) => s.state === 'DELAYED')).toBe(true);
    const r = await api('POST', '/api/v1/server/task/revoke', { id });
    expect(r.body).toMatchObject({ status: 0, revoked: 3 });
    const t = await task(id);
    expect(t.task).toMatchObject({ status: 'REVOKED', complete: 3 });
    expect(
      t.subtasks.every((s: any) => s.state === 'REVOKED' && s.errcode === ErrorCode.TASK_REVOKED && s.attempts === 0),
    ).toBe(true);

    const exp = await create({
      command: 'config',
      agents: [sn[2]],
      delay: 1,
      ttl: 0.2,
      batch: 0,
      parameters: { step: 1 },
    });
    // Delay 1 s then 0.2 s to start: the scheduler promotes it and a push may catch it, or it expires.
    const e = await waitTask(exp, (x) => x.task.status === 'COMPLETE', 'expiry task done');
    expect(['SUCCESS', 'FAILED']).toContain(e.subtasks[0].state);
    // A host that does not push at all: its subtask certainly expires.
    const stopped = boots[1]!;
    await stopped.stop();
    const exp2 = await create({ command: 'config', agents: [sn[1]], ttl: 1, parameters: { step: 1 } });
    const e2 = await waitTask(exp2, (x) => x.task.status === 'COMPLETE', 'expired');
    expect(e2.subtasks[0]).toMatchObject({ state: 'FAILED', errcode: ErrorCode.TASK_EXPIRED, attempts: 0 });
  });

  it('server restart in the middle of a task: nothing lost, the task finishes', async () => {
    const live = [sn[0]!, sn[2]!];
    const id = await create({ command: 'config', agents: live, batch: 1, parameters: { step: 1 } });
    await waitTask(id, (x) => x.task.complete === 1, 'first host done');
    await srv.restart();
    const t = await waitTask(id, (x) => x.task.status === 'COMPLETE', 'task finished after restart', 45_000);
    expect(t.subtasks.map((s: any) => s.state)).toEqual(['SUCCESS', 'SUCCESS']);
    const events = await api('GET', `/api/v1/server/event?agentsn=${sn[0]}`);
    expect(events.status).toBe(200);
  });
});
