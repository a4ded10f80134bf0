// Issue 13 (server side), continued from task-engine.test.ts: a dependency REVOKED (not failed)
// and max_errors given as a percentage, against the real server. The hosts register and push over
// real HTTP from the test (as the neighbouring tests' held hosts do), so the test decides which
// host reports what and when. Run on both stores: the queue's rules have a SQLite and a
// PostgreSQL twin (store/*/task-queue-core.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import { startAspire, startPostgres, waitUntil, type AspireHandle, type PostgresHandle } from '@aspire/testing';

/** The server of the describe block running now (each block starts its own). */
let srv: AspireHandle;

const api = (m: string, p: string, b?: unknown) => srv.api(m, p, b);
const task = async (id: number) => (await api('GET', `/api/v1/server/task?id=${id}`)).body;
const bySn = (t: any) => Object.fromEntries(t.subtasks.map((s: any) => [s.agentsn, s]));

async function waitTask(id: number, pred: (t: any) => boolean, what: string) {
  return waitUntil(
    async () => {
      const t = await task(id);
      return pred(t) ? t : undefined;
    },
    { timeoutMs: 45_000, what, intervalMs: 200 },
  );
}
async function create(body: Record<string, unknown>): Promise<number> {
  const r = await api('POST', '/api/v1/server/task', body);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.id as number;
}
async function post(path: string, body: object, headers: Record<string, string>) {
  const res = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

interface Result {
  id: string;
  errcode: number;
  message: string;
}

/** A host the test drives: registered for real, pushing (with job results) only when the test says. */
async function fakeHost(agentsn: string) {
  const hostname = `host-${agentsn}`;
  const r = await post('/agent/register', { hostname, agentsn }, { 'x-aspire-enroll': srv.enrollSecret });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const credential = r.body.credential as string;
  return {
    agentsn,
    async push(jobs: Result[] = []): Promise<{ id: string }[]> {
      const body = {
        hostname,
        agentsn,
        version: '1.0.0',
        uptime: 5,
        timestamp: Math.floor(Date.now() / 1000),
        step: 600,
        agents: [],
        jobs,
        events: [],
        os: 'linux',
        arch: 'x86_64',
      };
      const res = await post('/agent/status', body, { 'x-aspire-credential': credential });
      expect(res.status).toBe(200);
      return res.body.jobs ?? [];
    },
  };
}
type Host = Awaited<ReturnType<typeof fakeHost>>;

/** The host is handed exactly one job (the subtask of `taskId`) and reports it with `errcode`. */
async function runOne(h: Host, taskId: number, errcode: number): Promise<void> {
  const jobs = await h.push();
  expect(jobs.map((j) => j.id)).toEqual([bySn(await task(taskId))[h.agentsn].jobid]);
  await h.push([{ id: jobs[0]!.id, errcode, message: errcode === 0 ? 'ok' : 'install failed' }]);
}

for (const store of ['sqlite', 'postgres'] as const)
  describe(`task engine on ${store}: revoked dependencies and max_errors as a percentage (issue 13)`, () => {
    let pg: PostgresHandle | undefined;
    beforeAll(async () => {
      pg = store === 'postgres' ? await startPostgres({ database: 'aspire_task_more' }) : undefined;
      srv = await startAspire({
        config: { taskTtrSec: 60 },
        ...(pg ? { env: { ...process.env, ASPIRE_DATABASE_URL: pg.urlWithPassword } } : {}),
      });
    }, 120_000);
    afterAll(async () => {
      await srv?.stop();
      await pg?.stop();
    });

    it('a dependency REVOKED (one subtask, then the whole task) fails the dependent subtask on that host with TASK_DEPENDENCY_FAILED; the host whose dependency succeeded runs', async () => {
      const hosts = await Promise.all(['sn-dep-rv-1', 'sn-dep-rv-2', 'sn-dep-rv-3'].map(fakeHost));
      const [h1, h2, h3] = hosts as [Host, Host, Host];
      const all = hosts.map((h) => h.agentsn);
      const first = await create({ command: 'config', agents: all, parameters: { step: 600 } });
      const second = await create({ command: 'config', agents: all, after: [first], parameters: { step: 1 } });
      expect((await task(second)).states).toEqual({ PENDING: 3 });

      // Host 1 runs the first task; host 2's subtask of it is revoked on its own (it was READY).
      await runOne(h1, first, 0);
      const one = bySn(await task(first))[h2.agentsn].id;
      const rv = await api('POST', '/api/v1/server/task/revoke', { id: first, subtask: one });
      expect(rv.body).toMatchObject({ status: 0, revoked: 1, cancelling: 0 });
      const t2 = await waitTask(
        second,
        (x) => bySn(x)[h2.agentsn].state === 'FAILED' && bySn(x)[h1.agentsn].state === 'READY',
        "host 2's dependent subtask failed, host 1's admitted",
      );
      expect(bySn(t2)[h2.agentsn]).toMatchObject({
        state: 'FAILED',
        errcode: ErrorCode.TASK_DEPENDENCY_FAILED,
        message: 'A task this one runs after did not succeed on this host',
        attempts: 0,
      });
      // Host 3's dependency is still READY: its dependent subtask keeps waiting.
      expect(bySn(t2)[h3.agentsn].state).toBe('PENDING');
      expect(await h2.push()).toEqual([]);

      // The rest of the first task revoked whole: host 3's dependency is REVOKED too.
      const whole = await api('POST', '/api/v1/server/task/revoke', { id: first });
      expect(whole.body).toMatchObject({ status: 0, revoked: 1 });
      expect(bySn(await task(first))[h3.agentsn]).toMatchObject({ state: 'REVOKED', errcode: ErrorCode.TASK_REVOKED });
      await waitTask(second, (x) => bySn(x)[h3.agentsn].state === 'FAILED', "host 3's dependent subtask failed");
      expect(bySn(await task(second))[h3.agentsn]).toMatchObject({
        errcode: ErrorCode.TASK_DEPENDENCY_FAILED,
        attempts: 0,
      });
      expect(await h3.push()).toEqual([]);

      // Host 1 runs the dependent subtask; the task completes (dependency failures are not errors).
      await runOne(h1, second, 0);
      const done = await waitTask(second, (x) => x.task.status === 'COMPLETE', 'the dependent task complete');
      expect(done.task).toMatchObject({ count: 3, complete: 3 });
      expect(done.task.halt_reason ?? null).toBeNull();
      expect(bySn(done)[h1.agentsn]).toMatchObject({ state: 'SUCCESS', attempts: 1 });
    }, 120_000);

    it('max_errors "25%" of four hosts (one error allowed) halts the rollout at the second failure: the rest REVOKED with TASK_HALTED, the task HALTED with a reason', async () => {
      const hosts = await Promise.all(['sn-pct-err-1', 'sn-pct-err-2', 'sn-pct-err-3', 'sn-pct-err-4'].map(fakeHost));
      const id = await create({
        command: 'install',
        agents: hosts.map((h) => h.agentsn),
        batch: 1,
        max_errors: '25%',
        parameters: { name: 'Broken', version: '1', url: 'command://false' },
      });
      const made = await task(id);
      expect(made.task).toMatchObject({ max_errors_pct: 25, status: 'RUNNING' });
      expect(made.states).toEqual({ READY: 1, PENDING: 3 });

      /** The host whose subtask is READY now (batch 1: one at a time). */
      const readyHost = async (): Promise<Host> => {
        const t = await waitTask(id, (x) => x.states.READY === 1, 'one subtask admitted');
        const s = t.subtasks.find((x: any) => x.state === 'READY');
        return hosts.find((h) => h.agentsn === s.agentsn)!;
      };
      // The first failure is within 25% of 4 (= 1): the rollout goes on.
      await runOne(await readyHost(), id, ErrorCode.JOB_INSTALL_FAILED);
      const after1 = await waitTask(id, (x) => x.states.READY === 1, 'the next subtask admitted after one failure');
      expect(after1.task.status).toBe('RUNNING');
      expect(after1.states).toMatchObject({ FAILED: 1, READY: 1, PENDING: 2 });

      // The second exceeds it: halted, nothing more dispatched.
      const second = await readyHost();
      await runOne(second, id, ErrorCode.JOB_INSTALL_FAILED);
      const t = await waitTask(id, (x) => x.task.status === 'HALTED' && x.task.complete === 4, 'rollout halted');
      expect(t.task.halt_reason).toBe('halted: 2 failed subtasks exceed max_errors 25% (1)');
      expect(t.states).toEqual({ FAILED: 2, REVOKED: 2 });
      for (const s of t.subtasks.filter((x: any) => x.state === 'REVOKED')) {
        expect(s).toMatchObject({ errcode: ErrorCode.TASK_HALTED, attempts: 0 });
        expect(s.message).toMatch(
          /^Task halted: too many errors: halted: 2 failed subtasks exceed max_errors 25% \(1\)$/,
        );
      }
      for (const h of hosts) expect(await h.push()).toEqual([]);
      // The server really ran on this store.
      if (pg)
        expect((await pg.psql(`SELECT status FROM tasks WHERE id = ${id}`, 'aspire_task_more')).trim()).toBe('HALTED');
    }, 120_000);
  });
