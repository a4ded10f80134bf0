// The sub-agent manager in-process with REAL child processes, a REAL loopback HTTP server and
// REAL cgroup v1 hierarchies (root on this machine). The BootAgent-level proofs through the
// real server and a real boot process are in subagent-boot.test.ts.
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, realClock, silentLogger } from '@aspire/agent-core';
import { ErrorCode, type EventKind, type SubAgentJob } from '@aspire/protocol';
import { makeTestCa, waitUntil } from '@aspire/testing';
import { createServer as createHttpsServer } from 'node:https';
import * as tar from 'tar';
import { symlinkSync } from 'node:fs';
import type { SubAgentManager, SupervisionConfig } from '../../packages/boot-agent/src/contracts.ts';
import { createSubAgentManager } from '../../packages/boot-agent/src/subagents/manager.ts';
import { removeCgroupParent } from '../../packages/testing/fixtures/cgroup-cleanup.ts';
import { packFixture, type FixtureName } from '../../packages/testing/fixtures/pack-fixture.ts';
import { startPackageServer, type PackageServer } from '../../packages/testing/fixtures/package-server.ts';
import { startFtpServer } from '../../packages/testing/fixtures/ftp-server.ts';
import { measureCpuShare, QUICK_SUPERVISION, snapshotTree } from '../../packages/testing/fixtures/subagent-test-kit.ts';

const CGROUP_ROOT = '/sys/fs/cgroup';
const PARENT = `aspire-test-${process.pid}-${randomBytes(3).toString('hex')}`;
const base: SupervisionConfig = { ...QUICK_SUPERVISION, cgroupRoot: CGROUP_ROOT };

let srv: PackageServer;
let work: string;
const managers: SubAgentManager[] = [];
const mounts: string[] = [];

beforeAll(async () => {
  srv = await startPackageServer();
  work = mkdtempSync(join(tmpdir(), 'aspire-subagent-'));
});

afterEach(async () => {
  // Kill what the test started: every sub-agent is its own process group.
  for (const m of managers.splice(0)) {
    await m.stop();
    for (const r of m.reports())
      if (r.pid)
        try {
          process.kill(-r.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
  }
});

afterAll(async () => {
  await srv.close();
  for (const m of mounts)
    try {
      execFileSync('umount', [m]);
    } catch {
      /* not mounted */
    }
  rmSync(work, { recursive: true, force: true });
  await waitUntil(
    () => {
      removeCgroupParent(CGROUP_ROOT, PARENT);
      return !existsSync(join(CGROUP_ROOT, 'memory', PARENT)) && !existsSync(join(CGROUP_ROOT, 'cpu', PARENT));
    },
    { timeoutMs: 10_000, what: 'test cgroups removed' },
  );
});

function setup(over: Partial<SupervisionConfig> = {}, stateDir?: string) {
  const dir = stateDir ?? mkdtempSync(join(work, 'state-'));
  const events: {
    kind: EventKind;
    message: string;
    agent?: string | undefined;
    at: number;
    data?: Record<string, unknown> | undefined;
  }[] = [];
  const m = createSubAgentManager({
    clock: realClock,
    logger: silentLogger(),
    events: {
      emit: (kind, message, o) => events.push({ kind, message, agent: o?.agent, at: Date.now(), data: o?.data }),
    },
    stateDir: dir,
    config: { ...base, ...over },
    cgroupParent: PARENT,
  });
  managers.push(m);
  return { m, events, dir };
}

let jobSeq = 0;
function job(action: SubAgentJob['action'], name: string, extra: Partial<SubAgentJob> = {}): SubAgentJob {
  return { id: `job-${++jobSeq}`, action, name, ...extra };
}

async function publish(fixture: FixtureName, name: string, version: string, spec?: Record<string, unknown>) {
  const outDir = mkdtempSync(join(work, 'pkg-'));
  const p = await packFixture({ fixture, name, version, outDir, spec });
  return { ...p, url: srv.put(`/${name}/${name}-${version}.tar.gz`, p.file) };
}

const signal = () => new AbortController().signal;
const report = (m: SubAgentManager, name: string) => m.reports().find((r) => r.name === name);
const kinds = (ev: { kind: string }[]) => ev.map((e) => e.kind);

describe('sub-agent manager with real processes', () => {
  it('installs a tar.gz over HTTP with the right checksum; it runs with its version; job envs reach it', async () => {
    const { m, events, dir } = setup();
    await m.start();
    const pkg = await publish('idle-agent', 'Idle', '1.0.0');
    const out = await m.handleJob(
      job('install', 'Idle', { url: pkg.url, checksum: pkg.checksum, envs: { FIXTURE_ECHO: 'hello' } }),
      signal(),
    );
    expect(out).toMatchObject({ errcode: 0 });
    const r = report(m, 'Idle')!;
    expect(r).toMatchObject({ name: 'Idle', version: '1.0.0', status: 'running' });
    expect(isAlive(r.pid!)).toBe(true);
    const logFile = join(dir, 'Idle', 'log', 'Idle.log');
    await waitUntil(
      () => existsSync(logFile) && /idle-agent ready .*version=1\.0\.0 env="hello"/.test(readFileSync(logFile, 'utf8')),
      { what: 'agent log line' },
    );
    expect(kinds(events)).toEqual(['installed', 'started']);
    // Detached in its own process group, stdio to the log file (not pipes).
    expect(readFileSync(`/proc/${r.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]).toBe(String(r.pid));
  });

  it('wrong checksum, truncated, oversized, dead URL, 404: each its own code, nothing changed', async () => {
    const { m, dir } = setup({ downloadMaxBytes: 64 * 1024 });
    await m.start();
    const good = await publish('idle-agent', 'Keep', '1.0.0');
    expect(
      (await m.handleJob(job('install', 'Keep', { url: good.url, checksum: good.checksum }), signal())).errcode,
    ).toBe(0);
    const pid = report(m, 'Keep')!.pid;
    const before = snapshotTree(dir);
    const up = await publish('idle-agent', 'Keep', '2.0.0');
    const wrong = `SHA256:${'0'.repeat(64)}`;
    const big = randomBytes(100 * 1024);
    const bigSum = `SHA256:${createHash('sha256').update(big).digest('hex')}`;
    const closedPort = await new Promise<number>((r) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => r(p));
      });
    });
    const cases: [Partial<SubAgentJob>, number][] = [
      [{ url: up.url, checksum: wrong }, ErrorCode.JOB_CHECKSUM_MISMATCH],
      [
        { url: srv.putTruncated('/cut.tar.gz', readFileSync(up.file), 100), checksum: up.checksum },
        ErrorCode.JOB_DOWNLOAD_TRUNCATED,
      ],
      [{ url: srv.put('/big.tar.gz', big), checksum: bigSum }, ErrorCode.JOB_DOWNLOAD_TOO_LARGE],
      [{ url: `http://127.0.0.1:${closedPort}/x.tar.gz`, checksum: up.checksum }, ErrorCode.JOB_DOWNLOAD_FAILED],
      [{ url: `${srv.url}/nope.tar.gz`, checksum: up.checksum }, ErrorCode.JOB_DOWNLOAD_FAILED],
      [{ url: up.url }, ErrorCode.JOB_INVALID],
      [{ url: 'gopher://127.0.0.1/x', checksum: up.checksum }, ErrorCode.JOB_DOWNLOAD_FAILED],
    ];
    for (const [extra, code] of cases) {
      const out = await m.handleJob(job('upgrade', 'Keep', extra), signal());
      expect(out.errcode, `${JSON.stringify(extra)} -> ${out.message}`).toBe(code);
      expect(snapshotTree(dir)).toEqual(before);
      expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
      expect(report(m, 'Keep')).toMatchObject({ status: 'running', version: '1.0.0', pid });
    }
    // A wrong checksum on a first install leaves no trace of the agent at all.
    const fresh = await publish('idle-agent', 'Fresh', '1.0.0');
    expect((await m.handleJob(job('install', 'Fresh', { url: fresh.url, checksum: wrong }), signal())).errcode).toBe(
      ErrorCode.JOB_CHECKSUM_MISMATCH,
    );
    expect(existsSync(join(dir, 'Fresh'))).toBe(false);
    expect(report(m, 'Fresh')).toBeUndefined();
  });

  it('a full disk fails the job with JOB_DISK_FULL and leaves no temp file', async () => {
    const mnt = mkdtempSync(join(work, 'small-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]);
    mounts.push(mnt);
    const { m } = setup({}, mnt);
    await m.start();
    const big = randomBytes(1024 * 1024);
    const out = await m.handleJob(
      job('install', 'Huge', {
        url: srv.put('/huge.tar.gz', big),
        checksum: `SHA256:${createHash('sha256').update(big).digest('hex')}`,
      }),
      signal(),
    );
    expect(out).toMatchObject({ errcode: ErrorCode.JOB_DISK_FULL });
    expect(readdirSync(join(mnt, '.tmp'))).toEqual([]);
    expect(existsSync(join(mnt, 'Huge'))).toBe(false);
  });

  it('crash at once: restarted with the hold respected, fatal after the third strike, a restart job brings it back', async () => {
    const { m, events } = setup({ restartHoldSec: 1, strikeWindowSec: 30, maxStrikes: 3 });
    await m.start();
    const pkg = await publish('crash-agent', 'Crashy', '1.0.0', { env: { FIXTURE_CRASH: '1' } });
    await m.handleJob(job('install', 'Crashy', { url: pkg.url, checksum: pkg.checksum }), signal());
    await waitUntil(() => report(m, 'Crashy')?.status === 'fatal', { timeoutMs: 20_000, what: 'fatal' });
    // Measured from the started events' startedAt (the instant the hold counts from), not from
    // when the event reached the sink: that comes after the state file's fsync, which a loaded
    // disk can stretch by hundreds of milliseconds.
    const starts = events.filter((e) => e.kind === 'started').map((e) => Number(e.data?.startedAt));
    expect(starts).toHaveLength(3);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(1000);
    expect(kinds(events).filter((k) => k === 'strike')).toHaveLength(3);
    expect(kinds(events).filter((k) => k === 'fatal')).toHaveLength(1);
    // Fatal means no more restarts.
    await new Promise((r) => setTimeout(r, 1500));
    expect(kinds(events).filter((k) => k === 'started')).toHaveLength(3);
    // A restart job resets it; its envs apply at start and are kept.
    const out = await m.handleJob(job('restart', 'Crashy', { envs: { FIXTURE_CRASH: '0' } }), signal());
    expect(out.errcode).toBe(0);
    await new Promise((r) => setTimeout(r, 1000));
    expect(report(m, 'Crashy')).toMatchObject({ status: 'running', strikes: 0 });
  });

  it('a fixture that ignores SIGTERM is killed after stop_timeout', async () => {
    const { m, events, dir } = setup();
    await m.start();
    const pkg = await publish('no-sigterm-agent', 'Stubborn', '1.0.0', { stop_timeout: 1 });
    await m.handleJob(job('install', 'Stubborn', { url: pkg.url, checksum: pkg.checksum }), signal());
    const pid = report(m, 'Stubborn')!.pid!;
    // Its SIGTERM handler is installed once it says ready (a loaded machine starts node slowly).
    const log = join(dir, 'Stubborn', 'log', 'Stubborn.log');
    await waitUntil(() => existsSync(log) && readFileSync(log, 'utf8').includes('no-sigterm-agent ready'), {
      what: 'stubborn agent ready',
    });
    const t0 = Date.now();
    const out = await m.handleJob(job('stop', 'Stubborn'), signal());
    const took = Date.now() - t0;
    expect(out.errcode).toBe(0);
    expect(took).toBeGreaterThanOrEqual(950);
    expect(isAlive(pid)).toBe(false);
    expect(report(m, 'Stubborn')).toMatchObject({ status: 'stoped' });
    const exit = events.find((e) => e.kind === 'exit');
    expect(exit?.message).toMatch(/SIGKILL/);
  });

  it('stop with process:COMMAND runs the command (it gets ASPIRE_AGENT_PID) and the agent ends by itself', async () => {
    const { m, events } = setup();
    await m.start();
    const stopCmd = `process:${process.execPath} -e "process.kill(Number(process.env.ASPIRE_AGENT_PID), 'SIGUSR2')"`;
    const pkg = await publish('idle-agent', 'Polite', '1.0.0', { stop: stopCmd, stop_timeout: 10 });
    await m.handleJob(job('install', 'Polite', { url: pkg.url, checksum: pkg.checksum }), signal());
    const pid = report(m, 'Polite')!.pid!;
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    expect((await m.handleJob(job('stop', 'Polite'), signal())).errcode).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000); // no stop_timeout wait: the command did it
    expect(isAlive(pid)).toBe(false);
    expect(events.find((e) => e.kind === 'exit')?.message).toMatch(/SIGUSR2/);
  });

  it('allocating past a 50M memory limit: killed by the cgroup (v1), reported killed with an event', async () => {
    const { m, events } = setup({ restartHoldSec: 60 });
    await m.start();
    const pkg = await publish('alloc-agent', 'Hog', '1.0.0', { env: { FIXTURE_ALLOC_MB: '200' } });
    const out = await m.handleJob(
      job('install', 'Hog', { url: pkg.url, checksum: pkg.checksum, limits: { memory: '50M' } }),
      signal(),
    );
    expect(out.errcode).toBe(0);
    expect(readFileSync(join(CGROUP_ROOT, 'memory', PARENT, 'Hog', 'memory.limit_in_bytes'), 'utf8').trim()).toBe(
      String(50 * 1024 * 1024),
    );
    await waitUntil(() => report(m, 'Hog')?.status === 'killed', { timeoutMs: 20_000, what: 'killed status' });
    expect(kinds(events)).toContain('killed');
    expect(events.find((e) => e.kind === 'exit')?.message).toMatch(/SIGKILL/);
  });

  // Weakness 1: the process used to join its groups after it had started, so what it forked or
  // allocated in its first milliseconds was charged to the BootAgent's groups (v1 never moves it).
  const groupsOf = (pid: number) =>
    Object.fromEntries(
      readFileSync(`/proc/${pid}/cgroup`, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(':'))
        .map(([, h, path]) => [h!, path!]),
    );

  it('a fresh sub-agent is in its own cpu and memory groups from its first instruction: so is a child it forks at once', async () => {
    const { m, dir } = setup({ restartHoldSec: 60 });
    await m.start();
    const pkg = await publish('instant-alloc-agent', 'Instant', '1.0.0', { env: { FIXTURE_ALLOC_MB: '1' } });
    expect(
      (
        await m.handleJob(
          job('install', 'Instant', { url: pkg.url, checksum: pkg.checksum, limits: { memory: '50M', CPU: '50%' } }),
          signal(),
        )
      ).errcode,
    ).toBe(0);
    const pid = report(m, 'Instant')!.pid!;
    const own = `/${PARENT}/Instant`;
    expect(groupsOf(pid)).toMatchObject({ cpu: own, memory: own });
    const logFile = join(dir, 'Instant', 'log', 'Instant.log');
    const ready = await waitUntil(
      () =>
        existsSync(logFile)
          ? /allocator=(\d+)[\s\S]*cgroup-at-start \d+:memory:/.exec(readFileSync(logFile, 'utf8'))
          : null,
      { what: 'fixture log lines' },
    );
    // The child forked by the very first instruction, and the fixture's own first look.
    expect(groupsOf(Number(ready[1]))).toMatchObject({ cpu: own, memory: own });
    const atStart = Object.fromEntries(
      [...readFileSync(logFile, 'utf8').matchAll(/^cgroup-at-start \d+:([^:]*):(.*)$/gm)].map((x) => [x[1]!, x[2]!]),
    );
    expect(atStart).toMatchObject({ cpu: own, memory: own });
  });

  it('allocating past its limit in its very first instruction: still OOM-killed inside its own cgroup', async () => {
    const { m, events } = setup({ restartHoldSec: 60 });
    await m.start();
    const pkg = await publish('instant-alloc-agent', 'InstantHog', '1.0.0', { env: { FIXTURE_ALLOC_MB: '200' } });
    expect(
      (
        await m.handleJob(
          job('install', 'InstantHog', { url: pkg.url, checksum: pkg.checksum, limits: { memory: '50M' } }),
          signal(),
        )
      ).errcode,
    ).toBe(0);
    expect(readFileSync(join(CGROUP_ROOT, 'memory', PARENT, 'memory.oom_control'), 'utf8')).toMatch(/oom_kill \d+/); // this kernel counts OOM kills per group
    // `killed` on cgroup v1 means: memory.oom_control `oom_kill` of the agent's OWN group grew.
    await waitUntil(() => report(m, 'InstantHog')?.status === 'killed', { timeoutMs: 20_000, what: 'killed status' });
    expect(kinds(events)).toContain('killed');
    // The allocator (forked first thing) was the one killed: the shell reports its SIGKILL as 137.
    expect(events.find((e) => e.kind === 'exit')?.message).toMatch(/code 137/);
  });

  it('without a writable cgroup the watchdog samples usage and kills after `hits` violations: killed', async () => {
    const { m, events } = setup({
      cgroupRoot: join(work, 'no-cgroups-here'),
      watchdogIntervalSec: 0.2,
      restartHoldSec: 60,
    });
    await m.start();
    const pkg = await publish('alloc-agent', 'WatchedHog', '1.0.0', { env: { FIXTURE_ALLOC_MB: '300' } });
    await m.handleJob(
      job('install', 'WatchedHog', { url: pkg.url, checksum: pkg.checksum, limits: { memory: '150M', hits: 2 } }),
      signal(),
    );
    await waitUntil(() => report(m, 'WatchedHog')?.status === 'killed', { timeoutMs: 20_000, what: 'watchdog kill' });
    expect(kinds(events)).toContain('killed');
    expect(events.find((e) => e.kind === 'exit')?.message).toMatch(/SIGKILL/);
  });

  it('a spinner is held to its CPU quota (measured from /proc)', async () => {
    const { m } = setup();
    await m.start();
    const pkg = await publish('spin-agent', 'Spin', '1.0.0');
    await m.handleJob(
      job('install', 'Spin', { url: pkg.url, checksum: pkg.checksum, limits: { CPU: '20%' } }),
      signal(),
    );
    const pid = report(m, 'Spin')!.pid!;
    expect(readFileSync(join(CGROUP_ROOT, 'cpu', PARENT, 'Spin', 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('20000');
    await new Promise((r) => setTimeout(r, 500));
    const share = await measureCpuShare(pid, 3000);
    console.log(`spinner CPU share under a 20% quota: ${(share * 100).toFixed(1)}%`);
    expect(share).toBeLessThan(0.27);
    expect(share).toBeGreaterThan(0.02); // it did run (a loaded machine may give it less than its quota)
    const throttled = readFileSync(join(CGROUP_ROOT, 'cpu', PARENT, 'Spin', 'cpu.stat'), 'utf8');
    expect(Number(/nr_throttled (\d+)/.exec(throttled)![1])).toBeGreaterThan(0);
  });

  it('upgrade to a version that crashes on start is rolled back; the old version runs again', async () => {
    const { m, events, dir } = setup({ upgradeHealthySec: 1.5 });
    await m.start();
    const v1 = await publish('idle-agent', 'Up', '1.0.0');
    await m.handleJob(job('install', 'Up', { url: v1.url, checksum: v1.checksum }), signal());
    const v2 = await publish('crash-agent', 'Up', '2.0.0');
    const out = await m.handleJob(job('upgrade', 'Up', { url: v2.url, checksum: v2.checksum }), signal());
    expect(out.errcode).toBe(ErrorCode.JOB_ROLLED_BACK);
    expect(out.message).toMatch(/rolled back to 1\.0\.0/);
    const r = report(m, 'Up')!;
    expect(r).toMatchObject({ version: '1.0.0', status: 'running' });
    expect(isAlive(r.pid!)).toBe(true);
    expect(kinds(events)).toContain('rollback');
    expect(existsSync(join(dir, 'Up', 'versions', '2.0.0'))).toBe(false);
    // A good upgrade keeps the old version beside the new one and reports prevers.
    const v3 = await publish('idle-agent', 'Up', '3.0.0');
    expect((await m.handleJob(job('upgrade', 'Up', { url: v3.url, checksum: v3.checksum }), signal())).errcode).toBe(0);
    expect(report(m, 'Up')).toMatchObject({ version: '3.0.0', prevers: '1.0.0', status: 'running' });
    expect(readdirSync(join(dir, 'Up', 'versions')).sort()).toEqual(['1.0.0', '3.0.0']);
    expect(kinds(events)).toContain('upgraded');
  });

  it('a new manager on the same state adopts the running processes: same pids, no restart', async () => {
    const a = setup();
    await a.m.start();
    const pkg = await publish('idle-agent', 'Stay', '1.0.0');
    await a.m.handleJob(
      job('install', 'Stay', { url: pkg.url, checksum: pkg.checksum, limits: { memory: '64M' } }),
      signal(),
    );
    const pid = report(a.m, 'Stay')!.pid!;
    await a.m.stop();
    managers.splice(managers.indexOf(a.m), 1);
    expect(isAlive(pid)).toBe(true); // stopping the manager leaves sub-agents running
    const b = setup({}, a.dir);
    await b.m.start();
    expect(report(b.m, 'Stay')).toMatchObject({ status: 'running', pid });
    expect(kinds(b.events)).toEqual(['adopted']);
    // The adopted process is watched by polling: kill it, the manager notices and restarts it.
    process.kill(pid, 'SIGKILL');
    await waitUntil(
      () => {
        const r = report(b.m, 'Stay');
        return r?.status === 'running' && r.pid !== pid;
      },
      { timeoutMs: 15_000, what: 'restart after adopted exit' },
    );
    expect(kinds(b.events)).toEqual(expect.arrayContaining(['exit', 'strike', 'started']));
  });

  it('a start command that daemonizes: the pidfile process is supervised (no strike), adopted later, stopped by job', async () => {
    const a = setup();
    await a.m.start();
    const pidfile = join(mkdtempSync(join(work, 'run-')), 'daemon.pid');
    const pkg = await publish('daemon-agent', 'Daemon', '1.0.0', { pidfile, env: { FIXTURE_PIDFILE: pidfile } });
    expect(
      (await a.m.handleJob(job('install', 'Daemon', { url: pkg.url, checksum: pkg.checksum }), signal())).errcode,
    ).toBe(0);
    const daemonPid = await waitUntil(
      () => {
        const r = report(a.m, 'Daemon');
        const p = existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8')) : 0;
        return r?.status === 'running' && r.pid === p ? p : undefined;
      },
      { what: 'following the daemon pid' },
    );
    await new Promise((r) => setTimeout(r, 600)); // a few ticks
    expect(kinds(a.events)).not.toContain('strike');
    expect(report(a.m, 'Daemon')).toMatchObject({ status: 'running', pid: daemonPid });
    await a.m.stop();
    managers.splice(managers.indexOf(a.m), 1);
    const b = setup({}, a.dir);
    await b.m.start();
    expect(report(b.m, 'Daemon')).toMatchObject({ status: 'running', pid: daemonPid });
    expect((await b.m.handleJob(job('stop', 'Daemon'), signal())).errcode).toBe(0);
    expect(isAlive(daemonPid)).toBe(false);
  });

  it('docs/design.md §3 "Supervision" precheck and start_delay: a failing precheck or an agent that dies within start_delay fails the job', async () => {
    const { m } = setup({ restartHoldSec: 30 });
    await m.start();
    const pre = await publish('idle-agent', 'Prechecked', '1.0.0', { precheck: '/bin/false', precheck_retries: 2 });
    const t0 = Date.now();
    const out = await m.handleJob(job('install', 'Prechecked', { url: pre.url, checksum: pre.checksum }), signal());
    expect(out.errcode).toBe(ErrorCode.JOB_START_FAILED);
    expect(out.message).toMatch(/precheck \/bin\/false failed \(exit 1\) 2 time/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900); // 1 s between the two attempts
    expect(report(m, 'Prechecked')).toMatchObject({ status: 'stoped', strikes: 1 });

    const okPre = await publish('idle-agent', 'PrecheckOk', '1.0.0', { precheck: ['/bin/true'], start_delay: 0.5 });
    expect(
      (await m.handleJob(job('install', 'PrecheckOk', { url: okPre.url, checksum: okPre.checksum }), signal())).errcode,
    ).toBe(0);
    expect(report(m, 'PrecheckOk')).toMatchObject({ status: 'running' });

    const dies = await publish('crash-agent', 'DiesEarly', '1.0.0', { start_delay: 0.5 });
    const died = await m.handleJob(job('install', 'DiesEarly', { url: dies.url, checksum: dies.checksum }), signal());
    expect(died.errcode).toBe(ErrorCode.JOB_START_FAILED);
    expect(died.message).toMatch(/start_delay/);
  });

  it('uninstall removes files, process and its cgroups; the agent is no longer listed', async () => {
    const { m, dir, events } = setup();
    await m.start();
    const pkg = await publish('idle-agent', 'Gone', '1.0.0');
    await m.handleJob(
      job('install', 'Gone', { url: pkg.url, checksum: pkg.checksum, limits: { memory: '100M', CPU: '50%' } }),
      signal(),
    );
    const pid = report(m, 'Gone')!.pid!;
    const groups = ['cpu', 'memory'].map((h) => join(CGROUP_ROOT, h, PARENT, 'Gone'));
    for (const g of groups) expect(readFileSync(join(g, 'cgroup.procs'), 'utf8').trim()).toBe(String(pid));
    expect((await m.handleJob(job('uninstall', 'Gone'), signal())).errcode).toBe(0);
    expect(isAlive(pid)).toBe(false);
    for (const g of groups) expect(existsSync(g)).toBe(false);
    expect(existsSync(join(dir, 'Gone'))).toBe(false);
    expect(report(m, 'Gone')).toBeUndefined();
    expect(kinds(events)).toContain('uninstalled');
    expect((await m.handleJob(job('uninstall', 'Gone'), signal())).errcode).toBe(ErrorCode.JOB_NOT_INSTALLED);
    expect((await m.handleJob({ id: 'bad', action: 'start', name: '../etc' } as SubAgentJob, signal())).errcode).toBe(
      ErrorCode.JOB_INVALID,
    );
  });

  it('runs the agent as the spec user and group; an unknown user fails the start', async () => {
    // A run-as user must be able to reach its version dir (the real state dir is 0755).
    chmodSync(work, 0o755);
    const { m, dir } = setup();
    chmodSync(dir, 0o755);
    await m.start();
    const pkg = await publish('idle-agent', 'AsNobody', '1.0.0', { user: 'nobody', group: 'daemon' });
    // With limits: the held launcher runs as nobody too; the BootAgent (root) writes cgroup.procs.
    const out = await m.handleJob(
      job('install', 'AsNobody', { url: pkg.url, checksum: pkg.checksum, limits: { memory: '200M', CPU: '50%' } }),
      signal(),
    );
    expect(out, out.message).toMatchObject({ errcode: 0 });
    expect(groupsOf(report(m, 'AsNobody')!.pid!)).toMatchObject({
      cpu: `/${PARENT}/AsNobody`,
      memory: `/${PARENT}/AsNobody`,
    });
    const status = readFileSync(`/proc/${report(m, 'AsNobody')!.pid}/status`, 'utf8');
    const gid = readFileSync('/etc/group', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('daemon:'))!
      .split(':')[2];
    expect(/^Uid:\s+(\d+)/m.exec(status)![1]).toBe('65534');
    expect(/^Gid:\s+(\d+)/m.exec(status)![1]).toBe(gid);
    const ghost = await publish('idle-agent', 'Ghost', '1.0.0', { user: 'no-such-user-here' });
    const bad = await m.handleJob(job('install', 'Ghost', { url: ghost.url, checksum: ghost.checksum }), signal());
    expect(bad.errcode).toBe(ErrorCode.JOB_START_FAILED);
    expect(bad.message).toMatch(/no-such-user-here/);
  });

  it('a failing check command kills the agent; the policy counts it and restarts it', async () => {
    const { m, events } = setup({ restartHoldSec: 0.5 });
    await m.start();
    const pkg = await publish('idle-agent', 'Checked', '1.0.0', { check: ['/bin/false'], check_interval: 0.3 });
    await m.handleJob(job('install', 'Checked', { url: pkg.url, checksum: pkg.checksum }), signal());
    await waitUntil(() => events.filter((e) => e.kind === 'started').length >= 2, {
      timeoutMs: 15_000,
      what: 'restart after failed check',
    });
    expect(events.find((e) => e.kind === 'exit')?.message).toMatch(/SIGKILL/);
    expect(kinds(events)).toContain('strike');
  });

  it('start() sweeps what a kill -9 mid-job left: temp downloads, staging dirs, an install without state', async () => {
    const a = setup();
    await a.m.start();
    const pkg = await publish('idle-agent', 'Kept', '1.0.0');
    await a.m.handleJob(job('install', 'Kept', { url: pkg.url, checksum: pkg.checksum }), signal());
    await a.m.stop();
    mkdirSync(join(a.dir, '.tmp'), { recursive: true });
    writeFileSync(join(a.dir, '.tmp', 'dl-dead.part'), 'half');
    mkdirSync(join(a.dir, 'Kept', 'versions', '.staging-dead'), { recursive: true });
    mkdirSync(join(a.dir, 'HalfInstalled', 'versions', '9.9.9'), { recursive: true });
    const b = setup({}, a.dir);
    await b.m.start();
    expect(readdirSync(join(a.dir, '.tmp'))).toEqual([]);
    expect(readdirSync(join(a.dir, 'Kept', 'versions'))).toEqual(['1.0.0']);
    expect(existsSync(join(a.dir, 'HalfInstalled'))).toBe(false);
    expect(report(b.m, 'Kept')).toMatchObject({ status: 'running' });
  });

  it('ftp:// (passive RETR): installs with the right checksum; a short transfer and a wrong checksum fail with their codes', async () => {
    const ftp = await startFtpServer();
    try {
      const { m, dir } = setup();
      await m.start();
      const outDir = mkdtempSync(join(work, 'pkg-'));
      const p = await packFixture({ fixture: 'idle-agent', name: 'Ftp', version: '1.0.0', outDir });
      const body = readFileSync(p.file);
      const short = await m.handleJob(
        job('install', 'Ftp', { url: ftp.put('/short.tar.gz', body, { sendBytes: 50 }), checksum: p.checksum }),
        signal(),
      );
      expect(short.errcode, short.message).toBe(ErrorCode.JOB_DOWNLOAD_TRUNCATED);
      const wrong = await m.handleJob(
        job('install', 'Ftp', { url: ftp.put('/Ftp-1.0.0.tar.gz', body), checksum: `SHA256:${'2'.repeat(64)}` }),
        signal(),
      );
      expect(wrong.errcode).toBe(ErrorCode.JOB_CHECKSUM_MISMATCH);
      expect(existsSync(join(dir, 'Ftp'))).toBe(false);
      const out = await m.handleJob(
        job('install', 'Ftp', {
          url: `${ftp.url.replace('ftp://', 'ftp://deploy:s3cret@')}/Ftp-1.0.0.tar.gz`,
          checksum: p.checksum,
        }),
        signal(),
      );
      expect(out, out.message).toMatchObject({ errcode: 0 });
      expect(report(m, 'Ftp')).toMatchObject({ status: 'running', version: '1.0.0' });
      expect(ftp.logins).toContain('deploy');
      expect(ftp.logins).toContain('anonymous');
    } finally {
      await ftp.close();
    }
  });

  it('https:// with the configured CA (verification on): an untrusted server certificate fails the download', async () => {
    const ca = makeTestCa({ names: ['127.0.0.1'] });
    const outDir = mkdtempSync(join(work, 'pkg-'));
    const p = await packFixture({ fixture: 'idle-agent', name: 'Tls', version: '1.0.0', outDir });
    const body = readFileSync(p.file);
    const server = createHttpsServer({ cert: ca.serverCert, key: ca.serverKey }, (_req, res) =>
      res.writeHead(200, { 'content-length': body.length }).end(body),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as { port: number }).port}/Tls-1.0.0.tar.gz`;
    try {
      const untrusted = setup();
      await untrusted.m.start();
      const bad = await untrusted.m.handleJob(job('install', 'Tls', { url, checksum: p.checksum }), signal());
      expect(bad.errcode).toBe(ErrorCode.JOB_DOWNLOAD_FAILED);
      const dir = mkdtempSync(join(work, 'state-'));
      const m = createSubAgentManager({
        clock: realClock,
        logger: silentLogger(),
        events: { emit: () => {} },
        stateDir: dir,
        config: base,
        cgroupParent: PARENT,
        caFile: ca.caCertFile,
      });
      managers.push(m);
      await m.start();
      const out = await m.handleJob(job('install', 'Tls', { url, checksum: p.checksum }), signal());
      expect(out, out.message).toMatchObject({ errcode: 0 });
      expect(report(m, 'Tls')).toMatchObject({ status: 'running' });
    } finally {
      server.closeAllConnections();
      server.close();
      ca.cleanup();
    }
  });

  it('bad packages are refused with JOB_BAD_PACKAGE and leave nothing: no agent.json, invalid spec, symlinked agent.json, not a package', async () => {
    const { m, dir } = setup();
    await m.start();
    const mk = async (label: string, files: Record<string, string>, link?: [string, string]) => {
      const stage = mkdtempSync(join(work, 'bad-'));
      for (const [f, c] of Object.entries(files)) writeFileSync(join(stage, f), c);
      if (link) symlinkSync(link[1], join(stage, link[0]));
      const file = join(work, `${label}.tar.gz`);
      await tar.c({ gzip: true, file, cwd: stage, portable: true }, readdirSync(stage));
      const data = readFileSync(file);
      return {
        url: srv.put(`/${label}.tar.gz`, data),
        checksum: `SHA256:${createHash('sha256').update(data).digest('hex')}`,
      };
    };
    const cases = [
      await mk('nospec', { 'run.sh': 'x' }),
      await mk('badspec', {
        'agent.json': JSON.stringify({ version: '1.0', start: '', stop: 'nuke:it', limits: { cpu: 'all' } }),
      }),
      await mk('notjson', { 'agent.json': '{ not json' }),
      await mk('linkspec', {}, ['agent.json', '/etc/passwd']),
      await mk('othername', { 'agent.json': JSON.stringify({ name: 'SomeoneElse', version: '1.0', start: 'x' }) }),
    ];
    const plain = Buffer.from('just some text, neither gzip nor rpm');
    cases.push({
      url: srv.put('/plain.bin', plain),
      checksum: `SHA256:${createHash('sha256').update(plain).digest('hex')}`,
    });
    for (const c of cases) {
      const out = await m.handleJob(job('install', 'Bad', c), signal());
      expect(out.errcode, `${c.url}: ${out.message}`).toBe(ErrorCode.JOB_BAD_PACKAGE);
      expect(out.message).not.toContain('root:');
      expect(existsSync(join(dir, 'Bad'))).toBe(false);
      expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
    }
    expect(report(m, 'Bad')).toBeUndefined();
  });

  it('file:// source works and is verified the same way', async () => {
    const { m } = setup();
    await m.start();
    const outDir = mkdtempSync(join(work, 'pkg-'));
    const p = await packFixture({ fixture: 'idle-agent', name: 'Local', version: '0.1.0', outDir });
    expect(
      (
        await m.handleJob(
          job('install', 'Local', { url: `file://${p.file}`, checksum: `SHA256:${'1'.repeat(64)}` }),
          signal(),
        )
      ).errcode,
    ).toBe(ErrorCode.JOB_CHECKSUM_MISMATCH);
    expect(
      (await m.handleJob(job('install', 'Local', { url: `file://${p.file}`, checksum: p.checksum }), signal())).errcode,
    ).toBe(0);
    expect(report(m, 'Local')).toMatchObject({ status: 'running', version: '0.1.0' });
  });
});
