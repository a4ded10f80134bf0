// The BootAgent upgrading itself, on single executables (scripts/build.mjs + scripts/sea.mjs, the
// binaries package.sh ships) of three versions: A, B, and a B' that exits at start. Boot A runs
// under a supervisor that behaves like systemd's Restart=always (a loop here: this machine's pid 1
// is not systemd), against the real server, with a real sub-agent it supervises. An upgrade job
// from the server turns it into B (reported B, B in place of the executable, A kept beside it);
// an upgrade to B' comes back by itself; kill -9 at each step (fetch, the exec, the trial, the
// commit) still ends in one BootAgent, a result that matches the host, and the sub-agent never
// stopped. docs/lifecycle.md "BootAgent self-upgrade".
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import { startAspire, waitUntil, type AspireHandle } from '@aspire/testing';
import { packFixture } from '../../packages/testing/fixtures/pack-fixture.ts';
import {
  LogWatch,
  Supervisor,
  bootPids as bootsOf,
  buildBundle,
  createTask as createTaskOn,
  finalSubtask as finalOn,
  hostOf,
  seaOf,
  uploadPackage,
  versionOf,
  waitTrusted,
  writeBootConfig,
} from './self-upgrade-kit.ts';

const A = '7.1.0';
const B = '7.2.0';
const BAD = '7.3.0';
const SUB = 'idle-selfup';
/** Long enough for a loaded machine; a B' that exits at start is caught at its first restart anyway. */
const HEALTHY_SEC = 40;

let work: string;
let srv: AspireHandle;
let sup: Supervisor;
let target: string;
let stateDir: string;
let logFile: string;
let agentsn: string;
let config: string;
const binaries: Record<string, string> = {};

let log: LogWatch;
const writeConfig = (healthySec: number) => writeBootConfig(config, srv, healthySec);
const upload = (v: string) => uploadPackage(srv, 'BootAgent', v, binaries[v]!, `boot-${v}`);
const createTask = (command: string, parameters: Record<string, unknown>) =>
  createTaskOn(srv, agentsn, command, parameters);
const finalSubtask = (id: number, timeoutMs?: number) => finalOn(srv, id, timeoutMs);
const host = () => hostOf(srv, agentsn);
const bootPids = () => bootsOf(stateDir);
const mark = () => log.mark();
const waitLog = (re: RegExp, where?: (l: Record<string, unknown>) => boolean) => log.wait(re, where);

/** One BootAgent of a known version, the supervisor's child, running from the target file, reporting `version`. */
async function expectSettled(version: string, subPid: number): Promise<void> {
  const pid = await waitUntil(
    async () => {
      const pids = bootPids();
      if (pids.length !== 1) return undefined;
      const h = await host();
      return h.curvers === `bootagent-${version}-x86_64` ? pids[0] : undefined;
    },
    { timeoutMs: 90_000, what: `one boot reporting ${version}` },
  );
  expect(pid).toBe(sup.pid);
  expect(readlinkSync(`/proc/${pid}/exe`)).toBe(target);
  expect(await versionOf(target)).toBe(version);
  expect(readFileSync(join(stateDir, '..', 'boot.pid'), 'utf8').trim()).toBe(String(pid));
  // The sub-agent was never stopped: same pid, still alive.
  const sub = (await host()).agents.find((a) => a.name === SUB);
  expect(sub?.pid).toBe(subPid);
  expect(() => process.kill(subPid, 0)).not.toThrow();
  // No step left half-done.
  expect(() => readFileSync(join(stateDir, 'self-upgrade', 'marker.json'))).toThrow();
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-selfup-'));
  const t0 = Date.now();
  // Three builds in sequence (two cores shared with other suites): about 10 s each.
  for (const [v, bad] of [
    [A, false],
    [B, false],
    [BAD, true],
  ] as const) {
    const dir = join(work, `build-${v}`);
    binaries[v] = await seaOf(await buildBundle(dir, v, bad), join(dir, 'sea'));
  }
  console.error(`boot-self-upgrade: three single executables built in ${(Date.now() - t0) / 1000} s`);
  srv = await startAspire();
  for (const v of [A, B, BAD]) await upload(v);
  const sub = await packFixture({ fixture: 'idle-agent', name: SUB, version: '1.0.0', outDir: work });
  await uploadPackage(srv, SUB, '1.0.0', sub.file, `${SUB}.tar.gz`);

  // The host layout: the executable in a bin dir (what the unit's ExecStart names), state beside it.
  const hostDir = join(work, 'host');
  mkdirSync(join(hostDir, 'bin'), { recursive: true });
  target = join(hostDir, 'bin', 'boot');
  copyFileSync(binaries[A]!, target);
  stateDir = join(hostDir, 'state');
  logFile = join(hostDir, 'boot.log');
  log = new LogWatch(logFile);
  config = join(hostDir, 'boot.json');
  writeConfig(HEALTHY_SEC);
  sup = new Supervisor(target, ['-f', '-c', config, '-d', stateDir, '-L', logFile, '-P', join(hostDir, 'boot.pid')]);
  sup.start();
  agentsn = await waitTrusted(stateDir);
}, 600_000);

afterAll(async () => {
  await sup?.stop();
  for (const a of (await host().catch(() => ({ agents: [] }))).agents)
    if (a.pid)
      try {
        process.kill(-a.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  await srv?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('BootAgent self-upgrade on single executables under a Restart=always supervisor', { timeout: 240_000 }, () => {
  let subPid = 0;

  it('A upgrades itself to B: B reports, B is in place, A kept beside it, the sub-agent untouched', async () => {
    const inst = await finalSubtask(await createTask('install', { name: SUB, version: '1.0.0' }), 60_000);
    expect(inst.state, inst.message).toBe('SUCCESS');
    subPid = (await waitUntil(async () => (await host()).agents.find((a) => a.name === SUB && a.pid)?.pid, {
      timeoutMs: 30_000,
      what: 'sub-agent pid',
    }))!;
    const pidBefore = sup.pid;
    const startsBefore = sup.starts;
    const s = await finalSubtask(await createTask('upgrade', { name: 'BootAgent', version: B }));
    expect(s.state, s.message).toBe('SUCCESS');
    expect(s.errcode).toBe(ErrorCode.OK);
    await expectSettled(B, subPid);
    // In place by exec: the same pid all along, never restarted by the supervisor.
    expect(sup.pid).toBe(pidBefore);
    expect(sup.starts).toBe(startsBefore);
    expect(await versionOf(`${target}.previous`)).toBe(A);
    const ev = await srv.api('GET', `/api/v1/server/event?agentsn=${agentsn}&kind=self_upgrade&limit=100`);
    const steps = (ev.body.events as { data?: { step?: string } | string }[]).map((e) =>
      typeof e.data === 'string' ? (JSON.parse(e.data) as { step?: string }).step : e.data?.step,
    );
    expect(steps).toEqual(expect.arrayContaining(['fetch', 'trial', 'healthy']));
  });

  it('an upgrade to a B that exits at start comes back to the running version by itself', async () => {
    const s = await finalSubtask(await createTask('upgrade', { name: 'BootAgent', version: BAD }));
    expect(s.state).toBe('FAILED');
    expect(s.errcode, s.message).toBe(ErrorCode.JOB_ROLLED_BACK);
    expect(s.message).toMatch(/7\.3\.0.*ended before its health window/);
    await expectSettled(B, subPid);
  });

  it('a package that is not a BootAgent is refused and nothing changes', async () => {
    const junk = join(work, 'not-boot');
    writeFileSync(junk, '#!/bin/sh\necho hello\n', { mode: 0o755 });
    await uploadPackage(srv, 'BootAgent', '9.9.9', junk, 'not-boot');
    const s = await finalSubtask(await createTask('upgrade', { name: 'BootAgent', version: '9.9.9' }));
    expect(s.state).toBe('FAILED');
    expect(s.errcode, s.message).toBe(ErrorCode.JOB_BAD_PACKAGE);
    expect(s.message).toMatch(/not a BootAgent/);
    const ev = await srv.api('GET', `/api/v1/server/event?agentsn=${agentsn}&kind=refused&limit=100`);
    expect(JSON.stringify(ev.body.events)).toMatch(/not a BootAgent/);
    await expectSettled(B, subPid);
  });

  // Each kill point, from the version running to the other one; the end must match the host.
  const points: { at: string; log: RegExp; where?: (l: Record<string, unknown>) => boolean }[] = [
    { at: 'fetch', log: /fetching/ },
    { at: 'exec', log: /running it in place of/ },
    { at: 'trial', log: /^on trial as BootAgent/ },
    { at: 'commit', log: /putting it in place/ },
    { at: 'the exec after the commit', log: /^self-upgrade marker found$/, where: (l) => l.step === 'commit' },
  ];
  for (const p of points) {
    it(`kill -9 of the BootAgent at ${p.at}: one BootAgent, a true result, the sub-agent never stopped`, async () => {
      const from = await versionOf(target);
      const to = from === A ? B : A;
      mark();
      const id = await createTask('upgrade', { name: 'BootAgent', version: to });
      await waitLog(p.log, p.where);
      process.kill(sup.pid, 'SIGKILL');
      const s = await finalSubtask(id);
      const expected = s.state === 'SUCCESS' ? to : from;
      if (s.state !== 'SUCCESS')
        expect([ErrorCode.JOB_INTERRUPTED, ErrorCode.JOB_ROLLED_BACK], s.message).toContain(s.errcode);
      console.error(`boot-self-upgrade: kill at ${p.at}: ${s.state} ${s.errcode} ${s.message}`);
      await expectSettled(expected, subPid);
    });
  }

  it('a new version that gets no status push answered in its window goes back by itself (server paused)', async () => {
    // A short window for this one: boot restarted cleanly (SIGTERM) to read it.
    writeConfig(8);
    const before = sup.starts;
    process.kill(sup.pid, 'SIGTERM');
    await waitUntil(() => sup.starts > before, { timeoutMs: 60_000, what: 'boot restarted' });
    const from = await versionOf(target);
    const to = from === A ? B : A;
    await expectSettled(from, subPid);
    mark();
    const id = await createTask('upgrade', { name: 'BootAgent', version: to });
    await waitLog(/running it in place of/);
    process.kill(srv.child.pid, 'SIGSTOP');
    try {
      await waitLog(/did not prove healthy/);
    } finally {
      process.kill(srv.child.pid, 'SIGCONT');
    }
    const s = await finalSubtask(id);
    expect(s.state).toBe('FAILED');
    expect(s.errcode, s.message).toBe(ErrorCode.JOB_ROLLED_BACK);
    expect(s.message).toMatch(/no status push was answered within 8 s/);
    await expectSettled(from, subPid);
  });
});
