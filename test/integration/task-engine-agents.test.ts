// Issue 13 "Must show", the parts the other task tests showed with hosts simulated over HTTP, here
// against the real server with REAL BootAgent processes: docs/design.md §5's task example verbatim (its two
// AgentSNs, `command://yum install MiniAgent -y` run by each host and MiniAgent supervised after),
// the second DELETE of a host, priority order as one real host receives its jobs, and the
// per-subtask retry of a failed install. Each host has its own rpm database (HOME/.rpmmacros) and
// a stand-in `yum` on its PATH that installs from the test's repo dir, so nothing is written
// outside the test's temp dir.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import { startAspire, startBoot, waitUntil, type AspireHandle, type BootHandle } from '@aspire/testing';
import { packFixtureRpm } from '../../packages/testing/fixtures/pack-fixture-rpm.ts';

/** The AgentSNs of docs/design.md §5's task example. */
const SEED_SN = ['9b62aabb-eda4-4d62-b036-b605d887bde3', '845d6374-7d4e-402f-87cc-2a780e794dd6'];

let work: string;
let repo: string;
let installDir: string;
let srv: AspireHandle;
const boots: BootHandle[] = [];
const yumLogs: string[] = [];
/** Sub-agents outlive their BootAgent by design: ended at the end by the pids the hosts reported. */
const subAgentPids = new Set<number>();
async function notePids(): Promise<void> {
  for (const sn of SEED_SN) {
    const h = await srv?.api('GET', `/api/v1/server/agent?agentsn=${sn}`).catch(() => undefined);
    for (const a of h?.body?.host?.agents ?? []) if (typeof a.pid === 'number') subAgentPids.add(a.pid);
  }
}

/** `yum install NAME -y` on these test hosts: rpm -U of NAME's rpm from the repo dir, into the host's own rpm database. */
const FAKE_YUM = `#!/bin/sh
echo "$*" >> "$YUM_LOG"
[ "$1" = install ] || exit 1
for f in "$YUM_REPO/$2"-[0-9]*.rpm; do
  [ -e "$f" ] || { echo "No package $2 available." >&2; exit 1; }
  exec rpm -U --replacepkgs "$f"
done
`;

/** A BootAgent that registers under the given AgentSN (a metafile written before its first start). */
async function hostWith(agentsn: string, i: number): Promise<BootHandle> {
  const home = join(work, `home-${i}`);
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, '.rpmmacros'), `%_dbpath ${join(home, 'rpmdb')}\n`);
  const stateDir = join(work, `state-${i}`);
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(
    join(stateDir, 'meta.json'),
    JSON.stringify({
      version: 1,
      agentsn,
      servers: [srv.url],
      pushedServers: [],
      step: 1,
      stepFrom: 'config',
      trusted: false,
      registeredAt: 0,
    }),
  );
  const yumLog = join(work, `yum-${i}.log`);
  writeFileSync(yumLog, '');
  yumLogs[i] = yumLog;
  const boot = await startBoot({
    enrollSecret: srv.enrollSecret,
    step: 1,
    stateDir,
    config: { hostname: `seed-host-${i}`, logLevel: 'debug' },
    env: {
      HOME: home,
      PATH: `${join(work, 'bin')}:${process.env.PATH}`,
      YUM_LOG: yumLog,
      YUM_REPO: repo,
    },
  });
  const meta = await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta() : undefined), {
    timeoutMs: 30_000,
    what: `host ${i} registered and trusted`,
  });
  expect(meta.agentsn).toBe(agentsn);
  return boot;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-task-agents-'));
  repo = join(work, 'repo');
  installDir = join(work, 'root');
  mkdirSync(repo);
  mkdirSync(join(work, 'bin'));
  writeFileSync(join(work, 'bin', 'yum'), FAKE_YUM);
  chmodSync(join(work, 'bin', 'yum'), 0o755);
  await packFixtureRpm({ fixture: 'idle-agent', name: 'MiniAgent', version: '0.3.0', outDir: repo, installDir });
  srv = await startAspire({ config: { taskTtrSec: 120 } });
  for (const [i, sn] of SEED_SN.entries()) boots.push(await hostWith(sn, i));
}, 120_000);

afterAll(async () => {
  await notePids();
  for (const b of boots) {
    await b.stop().catch(() => {});
    b.cleanup();
  }
  for (const pid of subAgentPids)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  await srv?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const api = (m: string, p: string, b?: unknown) => srv.api(m, p, b);
async function task(id: number) {
  return (await api('GET', `/api/v1/server/task?id=${id}`)).body;
}
async function waitTask(id: number, pred: (t: any) => boolean, what: string, timeoutMs = 90_000) {
  return waitUntil(
    async () => {
      const t = await task(id);
      return pred(t) ? t : undefined;
    },
    { timeoutMs, what, intervalMs: 250 },
  );
}
const bySn = (t: any) => Object.fromEntries(t.subtasks.map((s: any) => [s.agentsn, s]));

describe('task engine with real BootAgents (issue 13 must show)', () => {
  it("docs/design.md §5's task example verbatim: each host runs `yum install MiniAgent -y`, MiniAgent is supervised after", async () => {
    // The design's body, its "#" comments and the trailing comma removed (not JSON otherwise);
    // "url" twice as in the seed: the command:// one, last, is the one JSON.parse keeps.
    const seedBody = `{
	"command": "install",
	"agents": [
		"9b62aabb-eda4-4d62-b036-b605d887bde3",
		"845d6374-7d4e-402f-87cc-2a780e794dd6"
	],
	"parameters": {
		"url": "http://xxxx",
		"url": "command://yum install MiniAgent -y"
	}
}`;
    const res = await fetch(`${srv.url}/api/v1/server/task`, {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/json' },
      body: seedBody,
    });
    const created = (await res.json()) as any;
    expect(res.status, JSON.stringify(created)).toBe(200);
    expect(created).toEqual({
      id: expect.any(Number),
      status: 0,
      message: 'success',
      results: SEED_SN.map((AgentSN) => ({ AgentSN })),
    });
    const t = await waitTask(created.id, (x) => x.task.status === 'COMPLETE', 'seed task complete');
    expect(t.task.parameters).toEqual({ url: 'command://yum install MiniAgent -y', name: 'MiniAgent' });
    for (const sn of SEED_SN) expect(bySn(t)[sn], JSON.stringify(bySn(t)[sn])).toMatchObject({ state: 'SUCCESS' });
    // Each host ran the design's command itself, as written.
    for (const log of yumLogs) expect(readFileSync(log, 'utf8')).toBe('install MiniAgent -y\n');
    for (const sn of SEED_SN) {
      const agents = await waitUntil(
        async () => {
          const h = (await api('GET', `/api/v1/server/agent?agentsn=${sn}`)).body.host;
          const a = h?.agents?.find((x: any) => x.name === 'MiniAgent');
          return a?.status === 'running' ? a : undefined;
        },
        { timeoutMs: 30_000, what: `MiniAgent running on ${sn}` },
      );
      expect(agents.version).toBe('0.3.0-1');
    }
  }, 180_000);

  it('priority: the tasks made while the host waits reach it in one push, lower priority value first', async () => {
    const boot = boots[0]!;
    const sn = SEED_SN[0]!;
    // The host is held still (SIGSTOP) while the three tasks are made, and they share a start_at
    // ahead: all three become READY together and go out in one push.
    process.kill(boot.child.pid, 'SIGSTOP');
    let ids: { low: number; mid: number; high: number };
    try {
      const startAt = new Date(Date.now() + 1500).toISOString();
      const make = async (priority?: number) => {
        const r = await api('POST', '/api/v1/server/task', {
          command: 'config',
          agents: [sn],
          start_at: startAt,
          parameters: { step: 1 },
          ...(priority === undefined ? {} : { priority }),
        });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        return r.body.id as number;
      };
      ids = { low: await make(2000), mid: await make(), high: await make(10) };
      await waitUntil(async () => (await task(ids.high)).subtasks[0].state === 'READY', {
        timeoutMs: 30_000,
        what: 'start_at reached',
      });
    } finally {
      process.kill(boot.child.pid, 'SIGCONT');
    }
    const done = await Promise.all(
      [ids.high, ids.mid, ids.low].map((id) => waitTask(id, (x) => x.task.status === 'COMPLETE', `task ${id}`)),
    );
    expect(done.map((t) => t.task.priority)).toEqual([10, 1024, 2000]);
    const subs = done.map((t) => t.subtasks[0]);
    for (const s of subs) expect(s.state).toBe('SUCCESS');
    // One push handed out all three...
    expect(new Set(subs.map((s) => s.reserved_at)).size).toBe(1);
    // ...in priority order, as the BootAgent journaled (and ran) them: one at a time, in arrival order.
    const order = boot
      .logLines()
      .filter((l) => l.msg === 'job received and journaled')
      .map((l) => String(l.jobId))
      .filter((j) => subs.some((s) => s.jobid === j));
    expect(order).toEqual(subs.map((s) => s.jobid));
  }, 180_000);

  it('retry one subtask: an install that failed on a host (no package in its repo yet) succeeds when retried, audited', async () => {
    const sn = SEED_SN[1]!;
    const r = await api('POST', '/api/v1/server/task', {
      command: 'install',
      agents: [sn],
      parameters: { url: 'command://yum install LateAgent -y' },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const id = r.body.id as number;
    // max_errors 0 (the default): the failure halts the task; a retry still re-runs that host.
    const failed = await waitTask(id, (x) => x.task.status === 'HALTED' && x.task.complete === 1, 'install failed');
    const sub = failed.subtasks[0];
    expect(sub).toMatchObject({ state: 'FAILED', errcode: ErrorCode.JOB_INSTALL_FAILED, attempts: 1 });
    expect(sub.message).toMatch(/No package LateAgent available/);
    // A SUCCESS subtask is not retried; an unknown one is 404.
    const ok = (await task(id - 1)).subtasks?.[0];
    if (ok?.state === 'SUCCESS')
      expect((await api('POST', '/api/v1/server/task/retry', { id: id - 1, subtask: ok.id })).status).toBe(409);
    expect((await api('POST', '/api/v1/server/task/retry', { id, subtask: 'nope' })).status).toBe(404);
    // The package reaches the repo; the operator retries that one subtask.
    await packFixtureRpm({ fixture: 'idle-agent', name: 'LateAgent', version: '1.0.0', outDir: repo, installDir });
    const retried = await api('POST', '/api/v1/server/task/retry', { id, subtask: sub.id });
    expect(retried.body, JSON.stringify(retried.body)).toMatchObject({ status: 0, retried: 1 });
    expect(retried.body.state).toBe('READY');
    const t = await waitTask(id, (x) => x.subtasks[0].state === 'SUCCESS', 'retried install succeeded');
    expect(t.task.status).toBe('HALTED');
    expect(t.subtasks[0]).toMatchObject({ state: 'SUCCESS', attempts: 2, jobid: `${sub.id}.2` });
    expect(t.task.complete).toBe(1);
    const audit = await api('GET', '/api/v1/server/audit?route=/api/v1/server/task/retry&limit=10');
    expect(audit.status).toBe(200);
    const rows = audit.body.audit ?? audit.body.items ?? [];
    expect(JSON.stringify(rows)).toContain(`task ${id} subtask ${sub.id}: retried`);
  }, 180_000);

  it('a second DELETE of a host answers success with cause "already deleted"', async () => {
    const boot = boots[1]!;
    await notePids();
    await boot.stop();
    const sn = SEED_SN[1]!;
    const d1 = await api('DELETE', `/api/v1/server/host?agentsn=${sn}`);
    expect(d1.body).toMatchObject({ status: 0, deleted: 1 });
    expect(d1.body.cause).toBeUndefined();
    const d2 = await api('DELETE', `/api/v1/server/host?agentsn=${sn}`);
    expect(d2.status).toBe(200);
    expect(d2.body).toMatchObject({ status: 0, message: 'success', deleted: 0, cause: 'already deleted' });
  }, 180_000);
});
