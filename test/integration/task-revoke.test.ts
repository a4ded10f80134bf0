// Issue 13 item 3 "Stopping what runs", through the REAL server with its command hub, a REAL
// boot and a REAL BasicAgent: a revoke reaches a RESERVED install mid-download (the package is
// trickled from a loopback HTTP server so the download is in flight); a cancel reaches a long
// sync.bash mid-run and a periodic run. Processes are checked gone in /proc.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import {
  makeTestCa,
  startAspire,
  startBasicAgent,
  startBoot,
  waitUntil,
  type AspireHandle,
  type BasicAgentHandle,
  type BootHandle,
  type TestCa,
} from '@aspire/testing';

const SUFFIX = randomBytes(3).toString('hex');
const HOST = `revoke-host-${SUFFIX}`;

let ca: TestCa;
let srv: AspireHandle;
let boot: BootHandle;
let agentsn: string;
let basic: BasicAgentHandle;

/** A loopback server that sends a 4 MiB package one KiB every 100 ms: a download that stays in flight. */
interface SlowPackage {
  url: string;
  requests: number;
  /** Bytes written before the client went away, per request. */
  closedAfter: number[];
  close(): Promise<void>;
}
async function startSlowPackage(): Promise<SlowPackage> {
  const total = 4 * 1024 * 1024;
  const open = new Set<ServerResponse>();
  const state = { requests: 0, closedAfter: [] as number[] };
  const server: Server = createServer((_req, res) => {
    state.requests++;
    open.add(res);
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': String(total) });
    let sent = 0;
    const chunk = Buffer.alloc(1024, 0x41);
    const timer = setInterval(() => {
      if (sent >= total) return;
      res.write(chunk);
      sent += chunk.length;
    }, 100);
    res.on('close', () => {
      clearInterval(timer);
      open.delete(res);
      state.closedAfter.push(sent);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/Slow-1.0.0.tar.gz`,
    get requests() {
      return state.requests;
    },
    closedAfter: state.closedAfter,
    async close() {
      for (const r of open) r.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Pids whose command line contains the text (the test's own marker). */
function pidsWith(text: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text)) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

beforeAll(async () => {
  ca = makeTestCa();
  srv = await startAspire({ hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile } });
  boot = await startBoot({
    serverUrl: srv.url,
    enrollSecret: srv.enrollSecret,
    step: 0.3 as number,
    config: { logLevel: 'debug' },
  });
  agentsn = (
    await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta() : undefined), {
      timeoutMs: 30_000,
      what: 'boot trusted',
    })
  ).agentsn;
  basic = await startBasicAgent({ port: srv.hubAddress!.port, caFile: ca.caCertFile, hostname: HOST });
});

afterAll(async () => {
  await basic?.stop();
  await boot?.stop();
  await srv?.stop();
  boot?.cleanup();
  ca?.cleanup();
});

describe('revoking a RESERVED install', () => {
  it('mid-download: the download is aborted, nothing is installed, the subtask ends REVOKED and the BootAgent reports it revoked', async () => {
    const pkg = await startSlowPackage();
    try {
      const name = `Slow-${SUFFIX}`;
      const created = await srv.api('POST', '/api/v1/server/task', {
        command: 'install',
        agents: [agentsn],
        parameters: { name, version: '1.0.0', url: pkg.url, checksum: `SHA256:${'ab'.repeat(32)}` },
      });
      expect(created.body.status, JSON.stringify(created.body)).toBe(0);
      const id = created.body.id as number;
      // In flight: the host asked for the package and the subtask is RESERVED.
      await waitUntil(() => pkg.requests === 1, { timeoutMs: 30_000, what: 'download started' });
      const reserved = await srv.api('GET', `/api/v1/server/task?id=${id}`);
      expect(reserved.body.subtasks[0].state).toBe('RESERVED');

      const revoked = await srv.api('POST', '/api/v1/server/task/revoke', { id });
      expect(revoked.body, JSON.stringify(revoked.body)).toMatchObject({ status: 0, cancelling: 1 });

      const sub = await waitUntil(
        async () => {
          const r = await srv.api('GET', `/api/v1/server/task?id=${id}`);
          const s = r.body.subtasks?.[0];
          return s && s.state !== 'RESERVED' ? s : undefined;
        },
        { timeoutMs: 30_000, what: 'subtask leaves RESERVED' },
      );
      expect(sub).toMatchObject({ state: 'REVOKED', errcode: ErrorCode.JOB_REVOKED });
      expect(sub.message).toMatch(/revoked/i);
      // The download was cut: the client went away long before the 4 MiB were sent.
      await waitUntil(() => pkg.closedAfter.length === 1, { what: 'download connection closed' });
      expect(pkg.closedAfter[0]).toBeLessThan(4 * 1024 * 1024);
      expect(pkg.requests).toBe(1);
      // Nothing installed: not reported, no agent dir left.
      const host = await srv.api('GET', `/api/v1/server/agent?agentsn=${agentsn}`);
      expect(((host.body.host?.agents ?? []) as { name: string }[]).map((a) => a.name)).not.toContain(name);
      expect(existsSync(join(boot.stateDir, 'agents', name))).toBe(false);
      // The BootAgent said so: its log and a `revoked` event on the server.
      expect(boot.logLines().some((l) => l.msg === 'job revoked by the server while running: aborting it')).toBe(true);
      const events = await waitUntil(
        async () => {
          const r = await srv.api('GET', `/api/v1/server/event?agentsn=${agentsn}&kind=revoked&limit=10`);
          const e = (r.body.events ?? []) as { kind: string; message: string; data?: { errcode?: number } }[];
          return e.length > 0 ? e : undefined;
        },
        { what: 'revoked event' },
      );
      expect(events[0]!.data?.errcode).toBe(ErrorCode.JOB_REVOKED);
    } finally {
      await pkg.close();
    }
  });
});

describe('revoking one RESERVED subtask', () => {
  it('a command:// install step mid-run, revoked by subtask id: the command is killed, the subtask REVOKED', async () => {
    const duration = `297.${Math.floor(Math.random() * 1e6)}`;
    const created = await srv.api('POST', '/api/v1/server/task', {
      command: 'install',
      agents: [agentsn],
      parameters: { name: `Cmd-${SUFFIX}`, version: '1.0.0', url: `command://sleep ${duration}` },
    });
    expect(created.body.status, JSON.stringify(created.body)).toBe(0);
    const id = created.body.id as number;
    const pids = await waitUntil(
      () => {
        const p = pidsWith(duration);
        return p.length > 0 ? p : undefined;
      },
      { timeoutMs: 30_000, what: 'command running' },
    );
    const view = await srv.api('GET', `/api/v1/server/task?id=${id}`);
    const subtask = view.body.subtasks[0] as { id: string; state: string };
    expect(subtask.state).toBe('RESERVED');

    const revoked = await srv.api('POST', '/api/v1/server/task/revoke', { id, subtask: subtask.id });
    expect(revoked.body, JSON.stringify(revoked.body)).toMatchObject({ status: 0, cancelling: 1 });
    const sub = await waitUntil(
      async () => {
        const r = await srv.api('GET', `/api/v1/server/task?id=${id}`);
        const s = r.body.subtasks?.[0];
        return s && s.state !== 'RESERVED' ? s : undefined;
      },
      { timeoutMs: 30_000, what: 'subtask leaves RESERVED' },
    );
    expect(sub).toMatchObject({ id: subtask.id, state: 'REVOKED', errcode: ErrorCode.JOB_REVOKED });
    for (const p of pids) expect(existsSync(`/proc/${p}`)).toBe(false);
    expect(pidsWith(duration)).toEqual([]);
  });
});

describe('cancelling on the command channel', () => {
  it('a long sync.bash mid-run: its process group is gone and the request answers EXEC_CANCELLED', async () => {
    // A sleep with a duration nobody else uses marks the child; the bash line carries the marker too.
    const duration = `299.${Math.floor(Math.random() * 1e6)}`;
    const marker = `cancel-me-${SUFFIX}`;
    const requestId = `long-${SUFFIX}`;
    const running = srv.api('POST', '/api/v1/server/polaris', {
      id: requestId,
      hosts: [HOST],
      method: 'sync.bash',
      cmd: `echo ${marker}; sleep ${duration}; echo not-reached`,
      timeout: 600,
    });
    const pids = await waitUntil(
      () => {
        const p = pidsWith(duration);
        return p.length > 0 ? p : undefined;
      },
      { timeoutMs: 30_000, what: 'sleep running' },
    );

    const cancel = await srv.api('POST', '/api/v1/server/polaris/cancel', { hosts: [HOST], id: requestId });
    expect(cancel.body, JSON.stringify(cancel.body)).toMatchObject({
      status: 0,
      response: [{ host: HOST, resp: 'success' }],
    });
    const answered = await running;
    expect(answered.body.response[0]).toMatchObject({ host: HOST, resp: 'failed', retcode: ErrorCode.EXEC_CANCELLED });
    expect(answered.body.response[0].data).toContain(marker);
    expect(answered.body.response[0].data).not.toContain('not-reached');
    // The reply comes once the group is gone: nothing of it is left.
    expect(pidsWith(duration)).toEqual([]);
    expect(pidsWith(marker)).toEqual([]);
    for (const p of pids) expect(existsSync(`/proc/${p}`)).toBe(false);

    // Nothing runs under that id any more.
    const again = await srv.api('POST', '/api/v1/server/polaris/cancel', { hosts: [HOST], id: requestId });
    expect(again.body.response[0]).toMatchObject({ resp: 'failed', retcode: ErrorCode.CHANNEL_NOTHING_TO_CANCEL });
    // Neither or both of id and name: refused before any host is asked.
    expect((await srv.api('POST', '/api/v1/server/polaris/cancel', { hosts: [HOST] })).status).toBe(400);
    // A viewer may not cancel; an operator only on hosts inside its scope.
    const viewer = await srv.createToken(`viewer-${SUFFIX}`, ['--role', 'viewer']);
    expect(
      (await srv.api('POST', '/api/v1/server/polaris/cancel', { hosts: [HOST], id: requestId }, { token: viewer }))
        .status,
    ).toBe(403);
    const elsewhere = await srv.createToken(`elsewhere-${SUFFIX}`, [
      '--role',
      'operator',
      '--agentsn',
      'some-other-host',
    ]);
    const outside = await srv.api(
      'POST',
      '/api/v1/server/polaris/cancel',
      { hosts: [HOST], id: requestId },
      { token: elsewhere },
    );
    expect(outside.status).toBe(403);
    expect(outside.body.cause ?? outside.body.message).toMatch(/outside the scope/);
  });

  it('a periodic run: cancelled by name, its process is gone, its result says EXEC_CANCELLED, the schedule goes on', async () => {
    const duration = `298.${Math.floor(Math.random() * 1e6)}`;
    const name = `long-${SUFFIX}`;
    const add = await srv.api('POST', '/api/v1/server/polaris/tasks', {
      host: HOST,
      name,
      line: `* * * * * * root sleep ${duration}`,
    });
    expect(add.body, JSON.stringify(add.body)).toMatchObject({ status: 0, resp: 'success' });
    try {
      const first = await waitUntil(
        () => {
          const p = pidsWith(duration);
          return p.length > 0 ? p : undefined;
        },
        { timeoutMs: 30_000, what: 'periodic run started' },
      );
      const cancel = await srv.api('POST', '/api/v1/server/polaris/cancel', { hosts: [HOST], name });
      expect(cancel.body, JSON.stringify(cancel.body)).toMatchObject({
        status: 0,
        response: [{ host: HOST, resp: 'success' }],
      });
      await waitUntil(() => first.every((p) => !existsSync(`/proc/${p}`)), {
        timeoutMs: 20_000,
        what: 'first run gone',
      });
      const result = await waitUntil(
        async () => {
          const r = await srv.api('GET', `/api/v1/server/polaris/task-results?host=${HOST}&name=${name}&limit=100`);
          return ((r.body.items ?? []) as { skipped?: boolean; errcode?: number }[]).find(
            (x) => x.errcode === ErrorCode.EXEC_CANCELLED,
          );
        },
        { timeoutMs: 20_000, what: 'cancelled result stored' },
      );
      expect(result).toMatchObject({ errcode: ErrorCode.EXEC_CANCELLED });
      // The schedule goes on: a later fire starts a new run (another process).
      await waitUntil(() => pidsWith(duration).some((p) => !first.includes(p)), {
        timeoutMs: 20_000,
        what: 'next run',
      });
    } finally {
      // Cancel the run going now, then remove the task; a run a fire started in between is
      // no longer the agent's to cancel by name (the task is gone): ended here so nothing outlives the test.
      await srv.api('POST', '/api/v1/server/polaris/cancel', { hosts: [HOST], name });
      await srv.api('DELETE', `/api/v1/server/polaris/tasks?host=${HOST}&name=${name}`);
      await waitUntil(
        () => {
          const left = pidsWith(duration);
          for (const p of left)
            try {
              process.kill(p, 'SIGKILL');
            } catch {
              /* gone */
            }
          return left.length === 0;
        },
        { timeoutMs: 20_000, what: 'no periodic run left' },
      );
    }
  });
});
