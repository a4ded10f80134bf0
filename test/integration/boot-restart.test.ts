// Issue 2: kill -9 the agent right after it received a job and start it again: same AgentSN,
// the job is not run twice, its result still arrives. And the second boot on a pidfile.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { ErrorCode } from '@aspire/protocol';
import { startAspire, startBoot, waitForSubtask, waitUntil, type AspireHandle, type BootHandle } from '@aspire/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let srv: AspireHandle;
const boots: BootHandle[] = [];

beforeAll(async () => {
  srv = await startAspire();
});

afterAll(async () => {
  for (const b of boots) await b.stop();
  await srv?.stop();
  for (const b of boots) b.cleanup();
});

/** A boot restarted on the state dir and log of an earlier one. */
async function restartOn(prev: BootHandle): Promise<BootHandle> {
  const b = await startBoot({
    serverUrl: srv.url,
    enrollSecret: srv.enrollSecret,
    step: 1,
    stateDir: prev.stateDir,
    logFile: prev.logFile,
  });
  boots.push(b);
  return b;
}

/**
 * A trusted boot running an install job whose download stalls forever (the package server sends
 * 1 KiB of a declared 1 MiB and then nothing): the job is mid-run when this resolves.
 */
async function stalledInstall(name: string) {
  let requests = 0;
  const pkg = createServer((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 1024 * 1024 });
    res.write(Buffer.alloc(1024));
  });
  await new Promise<void>((r) => pkg.listen(0, '127.0.0.1', r));
  const first = await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step: 1 });
  boots.push(first);
  const meta = await waitUntil(() => (first.readMeta()?.trusted ? first.readMeta() : undefined), {
    timeoutMs: 30_000,
    what: 'trusted',
  });
  const url = `http://127.0.0.1:${(pkg.address() as { port: number }).port}/${name}-1.0.0.tar.gz`;
  const created = await srv.api('POST', '/api/v1/server/task', {
    command: 'install',
    agents: [meta.agentsn],
    parameters: { name, version: '1.0.0', url, checksum: `SHA256:${'0'.repeat(64)}` },
  });
  expect(created.status).toBe(200);
  await waitUntil(() => requests === 1, { timeoutMs: 30_000, what: 'download started' });
  return {
    first,
    agentsn: meta.agentsn,
    taskId: created.body.id as number,
    requests: () => requests,
    close: async () => {
      pkg.closeAllConnections();
      await new Promise<void>((r) => pkg.close(() => r()));
    },
  };
}

describe('boot restarts', () => {
  it('kill -9 right after a job arrived: same AgentSN after restart, job run at most once, result arrives', async () => {
    const first = await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step: 1 });
    boots.push(first);
    const meta = await waitUntil(() => (first.readMeta()?.trusted ? first.readMeta() : undefined), {
      timeoutMs: 30_000,
      what: 'trusted',
    });
    const created = await srv.api('POST', '/api/v1/server/task', {
      command: 'config',
      agents: [meta.agentsn],
      parameters: { tags: 'phase=after-kill' },
    });
    expect(created.status).toBe(200);
    // The "received" line is written only once the job is journaled on disk.
    const received = await first.waitForLog(/^job received and journaled$/, { timeoutMs: 30_000 });
    await first.kill9();
    const jobId = String(received.jobId);

    const second = await startBoot({
      serverUrl: 'http://127.0.0.1:9',
      enrollSecret: srv.enrollSecret,
      step: 1,
      stateDir: first.stateDir,
      logFile: first.logFile,
    });
    boots.push(second);
    const sub = await waitForSubtask(srv, created.body.id);
    // Same identity: no new registration, -S of the second start ignored.
    expect(second.readMeta()!.agentsn).toBe(meta.agentsn);
    expect(second.readMeta()!.servers).toEqual([srv.url]);
    const lines = second.logLines();
    expect(lines.filter((l) => l.msg === 'registered')).toHaveLength(1);
    // At most once: the job ran in the first process or was reported interrupted, never ran again.
    expect(lines.filter((l) => l.msg === 'job running' && l.jobId === jobId).length).toBeLessThanOrEqual(1);
    if (sub.errcode === 0) expect(sub.state).toBe('SUCCESS');
    else expect(sub.errcode).toBe(ErrorCode.JOB_INTERRUPTED);
    // The result is dropped from the journal once a push carrying it was answered.
    await waitUntil(() => second.readJournal()?.jobs.every((j) => j.id !== jobId), {
      timeoutMs: 20_000,
      what: 'journal entry dropped',
    });
    expect(second.readJournal()!.acked.map((a) => a.id)).toContain(jobId);
    // The server still knows exactly one host under this AgentSN, online.
    const host = await srv.api('GET', `/api/v1/server/agent?agentsn=${meta.agentsn}`);
    expect(host.body.host.status).toBe('online');
  });

  it('a second boot on the same pidfile exits non-zero and says why; the first keeps running', async () => {
    const first = await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step: 1 });
    boots.push(first);
    const { Child, binary } = await import('@aspire/testing');
    const bin = binary('boot');
    const other = new Child(bin.cmd, [
      ...bin.args,
      '-f',
      '-P',
      first.pidfile,
      '-c',
      first.configFile,
      '-d',
      `${first.dir}/state2`,
      '-L',
      `${first.dir}/second.log`,
    ]);
    const exit = await other.exited;
    expect(exit.code).toBe(3);
    expect(other.output).toMatch(new RegExp(`pidfile ${first.pidfile} is held by running process ${first.child.pid}`));
    expect(readFileSync(first.pidfile, 'utf8').trim()).toBe(String(first.child.pid));
    expect(first.child.proc.exitCode).toBeNull();
    // A clean stop releases the pidfile.
    const stopped = await first.stop();
    expect(stopped.code).toBe(0);
    expect(() => readFileSync(first.pidfile)).toThrow();
  });

  it('an agentsn the server already gave another host: the server answers a fresh one and the agent adopts it', async () => {
    const owner = await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step: 1 });
    boots.push(owner);
    const taken = await waitUntil(() => (owner.readMeta()?.trusted ? owner.readMeta()!.agentsn : undefined), {
      timeoutMs: 30_000,
      what: 'owner trusted',
    });
    // A host whose metafile names that agentsn but never got it confirmed (no credential): it registers again.
    const stateDir = join(owner.dir, 'clash-state');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(
      join(stateDir, 'meta.json'),
      JSON.stringify({
        version: 1,
        agentsn: taken,
        servers: [srv.url],
        pushedServers: [],
        trusted: false,
        registeredAt: 0,
      }),
    );
    const clash = await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step: 1, stateDir });
    boots.push(clash);
    const adopted = await waitUntil(() => (clash.readMeta()?.trusted ? clash.readMeta()!.agentsn : undefined), {
      timeoutMs: 30_000,
      what: 'clash trusted',
    });
    expect(adopted).not.toBe(taken);
    await clash.waitForLog(/^server answered another agentsn \(conflict\): adopted$/);
    // Both hosts online under their own agentsn; the owner keeps its own.
    for (const sn of [taken, adopted]) {
      const h = await waitUntil(
        async () =>
          (await srv.api('GET', `/api/v1/server/agent?agentsn=${sn}`)).body.host?.status === 'online'
            ? true
            : undefined,
        { timeoutMs: 20_000, what: `${sn} online` },
      );
      expect(h).toBe(true);
    }
    expect(owner.readMeta()!.agentsn).toBe(taken);
  });

  it('kill -9 in the middle of a job (a download that never finishes): reported JOB_INTERRUPTED after restart, never run again', async () => {
    const t = await stalledInstall('stall');
    try {
      const running = t.first.logLines().find((l) => l.msg === 'job running' && l.action === 'install');
      expect(running).toBeTruthy();
      await t.first.kill9();

      const second = await restartOn(t.first);
      const sub = await waitForSubtask(srv, t.taskId);
      expect(sub.errcode).toBe(ErrorCode.JOB_INTERRUPTED);
      expect(sub.message).toMatch(/not run again/);
      expect(second.readMeta()!.agentsn).toBe(t.agentsn);
      // Never re-run: one download request in all, one "job running" line for it.
      expect(t.requests()).toBe(1);
      expect(second.logLines().filter((l) => l.msg === 'job running' && l.jobId === running!.jobId)).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  it('SIGTERM while a job runs: boot aborts it, exits 0 promptly; JOB_INTERRUPTED arrives after the restart, the job is not re-run', async () => {
    const t = await stalledInstall('slow');
    try {
      const t0 = Date.now();
      const exit = await t.first.stop();
      expect(exit.code).toBe(0);
      expect(Date.now() - t0).toBeLessThan(15_000);
      const finished = t.first.logLines().find((l) => /^job finished: /.test(String(l.msg)));
      expect(finished?.errcode).toBe(ErrorCode.JOB_INTERRUPTED);

      await restartOn(t.first);
      const sub = await waitForSubtask(srv, t.taskId);
      expect(sub.errcode).toBe(ErrorCode.JOB_INTERRUPTED);
      expect(sub.message).toMatch(/stopped while install ran/);
      expect(t.requests()).toBe(1);
    } finally {
      await t.close();
    }
  });
});
