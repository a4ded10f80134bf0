// Issue 4 through the REAL server and a REAL boot process: packages uploaded to `aspire`,
// install/upgrade/stop/restart/uninstall tasks delivered in status replies, sub-agents run by
// `boot` as real processes under real cgroup v1 limits, results and events back on the server.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, processStartTicks } from '@aspire/agent-core';
import { ErrorCode } from '@aspire/protocol';
import { startAspire, startBoot, waitUntil, type AspireHandle, type BootHandle } from '@aspire/testing';
import { cgroupParentCleanup } from '../../packages/testing/fixtures/cgroup-cleanup.ts';
import { packFixture, type FixtureName } from '../../packages/testing/fixtures/pack-fixture.ts';
import { startPackageServer, type PackageServer } from '../../packages/testing/fixtures/package-server.ts';
import { measureCpuShare, QUICK_SUPERVISION, snapshotTree } from '../../packages/testing/fixtures/subagent-test-kit.ts';

// A 2 s hold keeps a limit-killed agent visibly `killed` across several status pushes.
const SUPERVISION = { ...QUICK_SUPERVISION, restartHoldSec: 2 };
// boot puts cgroups under the fixed parent "aspire"; the agent names are unique per run.
const SUFFIX = randomBytes(3).toString('hex');
const N = (base: string) => `${base}-${SUFFIX}`;

let srv: AspireHandle;
let pkgs: PackageServer;
let boot: BootHandle;
let stateDir: string;
let agentsn: string;
let work: string;
const started: string[] = [];
// Taken before boot starts: the `aspire` parent is removed at the end if this suite made it.
const removeCgroups = cgroupParentCleanup('/sys/fs/cgroup', 'aspire');

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-subboot-'));
  srv = await startAspire();
  pkgs = await startPackageServer();
  boot = await startBoot({
    serverUrl: srv.url,
    enrollSecret: srv.enrollSecret,
    step: 0.3 as number,
    config: { supervision: SUPERVISION, logLevel: 'debug' },
  });
  stateDir = boot.stateDir;
  agentsn = (
    await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta() : undefined), {
      timeoutMs: 30_000,
      what: 'trusted',
    })
  ).agentsn;
});

afterAll(async () => {
  // Sub-agents outlive boot by design: kill what this suite started, then remove its cgroups.
  for (const a of (await hostAgents().catch(() => [])) as { pid?: number }[])
    if (a.pid)
      try {
        process.kill(-a.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  await boot?.stop();
  await removeCgroups(started);
  await pkgs?.close();
  await srv?.stop();
  boot?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/**
 * Pack a fixture and upload it to the real server. Jobs name the package by name and version:
 * the server fills in its own download link and the SHA256 it computed at upload, so the agent
 * downloads from the real server over HTTP. The loopback package server is kept for jobs that
 * carry an explicit url (the wrong-checksum case).
 */
async function upload(fixture: FixtureName, name: string, version: string, spec?: Record<string, unknown>) {
  const p = await packFixture({ fixture, name, version, outDir: work, spec });
  const q = new URLSearchParams({ name, version, os: 'linux', arch: 'x86_64', file: `${name}-${version}.tar.gz` });
  const res = await fetch(`${srv.url}/api/v1/server/package?${q}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/octet-stream' },
    body: readFileSync(p.file),
  });
  const body = (await res.json()) as { status: number; message?: string };
  expect(body.status, JSON.stringify(body)).toBe(0);
  const url = pkgs.put(`/${name}/${name}-${version}.tar.gz`, p.file);
  return { ...p, url, params: { name, version } };
}

async function task(command: string, parameters: Record<string, unknown>, timeoutMs = 30_000) {
  const created = await srv.api('POST', '/api/v1/server/task', { command, agents: [agentsn], parameters });
  expect(created.body.status, JSON.stringify(created.body)).toBe(0);
  return waitUntil(
    async () => {
      const r = await srv.api('GET', `/api/v1/server/task?id=${created.body.id}`);
      const s = r.body.subtasks?.[0];
      return s && ['SUCCESS', 'FAILED', 'BURIED', 'REVOKED'].includes(s.state) ? s : undefined;
    },
    { timeoutMs, what: `${command} task final` },
  ) as Promise<{ state: string; errcode: number; message: string }>;
}

async function hostAgents(): Promise<
  { name: string; version: string; status: string; pid?: number; prevers?: string; uptime: number }[]
> {
  const r = await srv.api('GET', `/api/v1/server/agent?agentsn=${agentsn}`);
  return r.body.host?.agents ?? [];
}
const listed = async (name: string) => (await hostAgents()).find((a) => a.name === name);

async function serverEvents(kind: string, agent: string) {
  const r = await srv.api('GET', `/api/v1/server/event?agentsn=${agentsn}&kind=${kind}&limit=100`);
  return ((r.body.events ?? []) as { agent?: string; kind: string; message: string }[]).filter(
    (e) => e.agent === agent,
  );
}

describe('sub-agents through the real server and a real boot', () => {
  it('install a tar.gz from the server over HTTP: running with its version; a wrong checksum changes nothing', async () => {
    const name = N('Idle');
    started.push(name);
    const pkg = await upload('idle-agent', name, '1.0.0');
    const sub = await task('install', pkg.params);
    expect(sub, JSON.stringify(sub)).toMatchObject({ state: 'SUCCESS', errcode: 0 });
    const a = await waitUntil(
      async () => {
        const x = await listed(name);
        return x?.status === 'running' ? x : undefined;
      },
      { what: 'listed running' },
    );
    expect(a).toMatchObject({ version: '1.0.0', status: 'running' });
    expect(isAlive(a.pid!)).toBe(true);

    const agentsDir = join(stateDir, 'agents');
    const before = snapshotTree(agentsDir);
    const v2 = await packFixture({ fixture: 'idle-agent', name, version: '2.0.0', outDir: work });
    const bad = await task('upgrade', {
      name,
      url: pkgs.put(`/${name}-2.0.0.tar.gz`, v2.file),
      checksum: `SHA256:${'ab'.repeat(32)}`,
    });
    expect(bad).toMatchObject({ state: 'FAILED', errcode: ErrorCode.JOB_CHECKSUM_MISMATCH });
    expect(snapshotTree(agentsDir)).toEqual(before);
    expect(await listed(name)).toMatchObject({ version: '1.0.0', status: 'running', pid: a.pid });
  });

  it('crash at once: restarts held, fatal after the third strike, events on the server; a restart job brings it back', async () => {
    const name = N('Crashy');
    started.push(name);
    const pkg = await upload('crash-agent', name, '1.0.0', { env: { FIXTURE_CRASH: '1' } });
    expect((await task('install', pkg.params)).state).toBe('SUCCESS');
    await waitUntil(async () => (await listed(name))?.status === 'fatal', {
      timeoutMs: 30_000,
      what: 'fatal on the server',
    });
    const strikes = await waitUntil(
      async () => {
        const s = await serverEvents('strike', name);
        return s.length >= 3 ? s : undefined;
      },
      { what: 'strike events' },
    );
    expect(strikes).toHaveLength(3);
    expect(await waitUntil(async () => (await serverEvents('fatal', name)).length === 1, { what: 'fatal event' })).toBe(
      true,
    );
    // Hold respected: the three starts are >= restartHoldSec apart (started events' occurred are
    // whole seconds, so use the boot log's startedAt: the instant the hold counts from).
    const starts = boot
      .logLines()
      .filter((l) => l.msg === 'sub-agent started' && l.agent === name)
      .map((l) => Number(l.startedAt));
    expect(starts).toHaveLength(3);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(2000);
    const back = await task('restart', { name, envs: { FIXTURE_CRASH: '0' } });
    expect(back.state).toBe('SUCCESS');
    await waitUntil(async () => (await listed(name))?.status === 'running', { what: 'running again' });
  });

  it('a sub-agent that ignores SIGTERM is killed after stop_timeout', async () => {
    const name = N('Stubborn');
    started.push(name);
    const pkg = await upload('no-sigterm-agent', name, '1.0.0', { stop_timeout: 1 });
    expect((await task('install', pkg.params)).state).toBe('SUCCESS');
    const a = await waitUntil(
      async () => {
        const x = await listed(name);
        return x?.status === 'running' ? x : undefined;
      },
      { what: 'running' },
    );
    const log = join(stateDir, 'agents', name, 'log', `${name}.log`);
    await waitUntil(() => existsSync(log) && readFileSync(log, 'utf8').includes('no-sigterm-agent ready'), {
      what: 'SIGTERM handler installed',
    });
    const stop = await task('stop', { name });
    expect(stop).toMatchObject({ state: 'SUCCESS', errcode: 0 });
    expect(isAlive(a.pid!)).toBe(false);
    const lines = boot.logLines();
    expect(
      lines.some((l) => l.msg === 'sub-agent ignored its stop; SIGKILL to its process group' && l.agent === name),
    ).toBe(true);
    await waitUntil(async () => (await listed(name))?.status === 'stoped', { what: 'stoped' });
  });

  it('allocating past a 50M limit: killed by the cgroup, listed killed; a spinner is held to its CPU quota', async () => {
    const hog = N('Hog');
    const spin = N('Spin');
    started.push(hog, spin);
    const hogPkg = await upload('alloc-agent', hog, '1.0.0', { env: { FIXTURE_ALLOC_MB: '200' } });
    const spinPkg = await upload('spin-agent', spin, '1.0.0');
    expect((await task('install', { ...hogPkg.params, limits: { memory: '50M' } })).state).toBe('SUCCESS');
    await waitUntil(async () => (await listed(hog))?.status === 'killed', { timeoutMs: 20_000, what: 'killed listed' });
    await waitUntil(async () => (await serverEvents('killed', hog)).length >= 1, { what: 'killed event' });

    expect((await task('install', { ...spinPkg.params, limits: { cpu: '15%' } })).state).toBe('SUCCESS');
    const pid = (
      await waitUntil(
        async () => {
          const x = await listed(spin);
          return x?.pid ? x : undefined;
        },
        { what: 'spin pid' },
      )
    ).pid!;
    await new Promise((r) => setTimeout(r, 500));
    const share = await measureCpuShare(pid, 3000);
    console.log(`spinner under boot, 15% quota: measured ${(share * 100).toFixed(1)}% of a CPU`);
    expect(share).toBeLessThan(0.22);
    expect(share).toBeGreaterThan(0.02);
    expect((await task('uninstall', { name: spin })).state).toBe('SUCCESS');
  });

  it('upgrade to a version that crashes on start is rolled back: old version running, the job reports the rollback', async () => {
    const name = N('Up');
    started.push(name);
    const v1 = await upload('idle-agent', name, '1.0.0');
    const v2 = await upload('crash-agent', name, '2.0.0');
    expect((await task('install', v1.params)).state).toBe('SUCCESS');
    const up = await task('upgrade', v2.params);
    expect(up).toMatchObject({ state: 'FAILED', errcode: ErrorCode.JOB_ROLLED_BACK });
    expect(up.message).toMatch(/rolled back to 1\.0\.0/);
    const a = await waitUntil(
      async () => {
        const x = await listed(name);
        return x?.status === 'running' && x.version === '1.0.0' ? x : undefined;
      },
      { what: 'old version running' },
    );
    expect(isAlive(a.pid!)).toBe(true);
    await waitUntil(async () => (await serverEvents('rollback', name)).length === 1, { what: 'rollback event' });
  });

  it('kill -9 the BootAgent and start it again: the same sub-agent processes are adopted, not restarted, not duplicated', async () => {
    const before = (await hostAgents()).filter((a) => a.status === 'running' && a.pid);
    expect(before.length).toBeGreaterThanOrEqual(2);
    const identity = before.map((a) => ({ name: a.name, pid: a.pid!, ticks: processStartTicks(a.pid!) }));
    const startedBefore = boot.logLines().filter((l) => l.msg === 'sub-agent started').length;
    await boot.kill9();
    for (const a of identity) expect(isAlive(a.pid)).toBe(true); // sub-agents survive their supervisor
    boot = await startBoot({
      serverUrl: srv.url,
      enrollSecret: srv.enrollSecret,
      step: 0.3 as number,
      stateDir,
      logFile: boot.logFile,
      config: { supervision: SUPERVISION, logLevel: 'debug' },
    });
    const adopted = await waitUntil(
      () => {
        const l = boot.logLines().filter((x) => x.msg === 'adopted running sub-agent');
        return l.length >= identity.length ? l : undefined;
      },
      { what: 'adoption log lines' },
    );
    expect(adopted.map((l) => l.agentPid).sort()).toEqual(identity.map((a) => a.pid).sort());
    await new Promise((r) => setTimeout(r, 1500)); // a few supervision ticks
    expect(boot.logLines().filter((l) => l.msg === 'sub-agent started').length).toBe(startedBefore);
    for (const a of identity) expect(processStartTicks(a.pid)).toBe(a.ticks);
    const after = await waitUntil(
      async () => {
        const x = (await hostAgents()).filter((a) => a.status === 'running');
        return x.length === identity.length ? x : undefined;
      },
      { what: 'listed after restart' },
    );
    expect(after.map((a) => a.pid).sort()).toEqual(identity.map((a) => a.pid).sort());
    // No duplicates: one process per agent running its agent.mjs under this state dir.
    for (const a of identity) {
      const cwdPids = readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return (
              readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('agent.mjs') &&
              readFileSync(`/proc/${p}/environ`, 'utf8').includes(`ASPIRE_AGENT_NAME=${a.name}\0`)
            );
          } catch {
            return false;
          }
        });
      expect(cwdPids).toEqual([String(a.pid)]);
    }
    // A clean stop (SIGTERM, what systemd does for a restart or an rpm upgrade) leaves them too.
    expect((await boot.stop()).code).toBe(0);
    for (const a of identity) expect(processStartTicks(a.pid)).toBe(a.ticks);
    boot = await startBoot({
      serverUrl: srv.url,
      enrollSecret: srv.enrollSecret,
      step: 0.3 as number,
      stateDir,
      logFile: boot.logFile,
      config: { supervision: SUPERVISION, logLevel: 'debug' },
    });
    await waitUntil(
      () => boot.logLines().filter((x) => x.msg === 'adopted running sub-agent').length >= 2 * identity.length,
      { what: 'adopted again after a clean stop' },
    );
    expect(boot.logLines().filter((l) => l.msg === 'sub-agent started').length).toBe(startedBefore);
  });

  it('uninstall removes the files and the process; the host no longer lists it', async () => {
    const name = N('Idle');
    const a = (await listed(name))!;
    expect(a.pid).toBeTruthy();
    const sub = await task('uninstall', { name });
    expect(sub).toMatchObject({ state: 'SUCCESS', errcode: 0 });
    expect(isAlive(a.pid!)).toBe(false);
    expect(existsSync(join(stateDir, 'agents', name))).toBe(false);
    await waitUntil(async () => (await listed(name)) === undefined, { what: 'not listed' });
  });
});
