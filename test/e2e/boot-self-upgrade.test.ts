// The BootAgent upgrading itself, on single executables (scripts/build.mjs + scripts/sea.mjs, the
// binaries package.sh ships) of three versions: A, B, and a B' that exits at start. Boot A runs
// under a supervisor that behaves like systemd's Restart=always (a loop here: this machine's pid 1
// is not systemd), against the real server, with a real sub-agent it supervises. An upgrade job
// from the server turns it into B (reported B, B in place of the executable, A kept beside it);
// an upgrade to B' comes back by itself; kill -9 at each step (fetch, the exec, the trial, the
// commit) still ends in one BootAgent, a result that matches the host, and the sub-agent never
// stopped. docs/lifecycle.md "BootAgent self-upgrade".
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import { repoRoot, startAspire, waitUntil, type AspireHandle } from '@aspire/testing';
import { packFixture } from '../../packages/testing/fixtures/pack-fixture.ts';

const exec = promisify(execFile);
const ROOT = repoRoot();
const NODE = join(ROOT, 'node_modules/node/bin/node');
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

/** systemd's Restart=always in a few lines: run the executable at `cmd`, start it again 0.5 s after any exit. */
class Supervisor {
  child: ChildProcess | undefined;
  starts = 0;
  output = '';
  private stopping = false;
  constructor(
    private readonly cmd: string,
    private readonly args: string[],
  ) {}
  start(): void {
    this.starts++;
    const c = spawn(this.cmd, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = c;
    c.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    c.on('exit', (code, signal) => {
      this.output += `[supervisor: exit code ${code} signal ${signal}]\n`;
      if (!this.stopping) setTimeout(() => this.start(), 500);
    });
  }
  get pid(): number {
    return this.child!.pid!;
  }
  async stop(): Promise<void> {
    this.stopping = true;
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 25_000))]);
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

async function buildBoot(version: string, exitAtStart = false): Promise<string> {
  const dir = join(work, `build-${version}`);
  const env = { ...process.env, ASPIRE_VERSION: version, ASPIRE_BUILD_DIR: join(dir, 'bundle'), BOOT_SERVER_ADDR: '' };
  await exec(NODE, ['scripts/build.mjs', 'boot'], { cwd: ROOT, env, timeout: 300_000 });
  const bundle = join(dir, 'bundle', 'boot.cjs');
  if (exitAtStart) {
    // A build that crashes at start: --version still answers (so it passes the package check).
    const text = readFileSync(bundle, 'utf8');
    writeFileSync(
      bundle,
      `if (!process.argv.includes('--version')) { process.stderr.write('boot: this build exits at start\\n'); process.exit(1); }\n${text}`,
    );
  }
  await exec(
    NODE,
    ['scripts/sea.mjs', '--bundle', bundle, '--name', 'boot', '--out', join(dir, 'sea'), '--arch', 'x86_64'],
    {
      cwd: ROOT,
      timeout: 300_000,
    },
  );
  return join(dir, 'sea', 'x86_64', 'boot');
}

function writeConfig(healthySec: number): void {
  writeFileSync(
    config,
    JSON.stringify({
      servers: [srv.url],
      enrollSecret: srv.enrollSecret,
      step: 1,
      httpTimeoutSec: 5,
      selfUpgrade: { healthySec },
      supervision: { checkIntervalSec: 0.5, restartHoldSec: 1 },
    }),
  );
}

async function versionOf(file: string): Promise<string> {
  const { stdout } = await exec(file, ['--version'], { timeout: 30_000 });
  return stdout.trim().split(' ')[1]!;
}

async function upload(version: string): Promise<void> {
  const q = new URLSearchParams({ name: 'BootAgent', version, os: 'linux', arch: 'x86_64', file: `boot-${version}` });
  const res = await fetch(`${srv.url}/api/v1/server/package?${q}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/octet-stream' },
    body: readFileSync(binaries[version]!),
  });
  expect(((await res.json()) as { status: number }).status).toBe(0);
}

async function createTask(command: string, parameters: Record<string, unknown>): Promise<number> {
  const created = await srv.api('POST', '/api/v1/server/task', { command, agents: [agentsn], parameters });
  expect(created.body.status, JSON.stringify(created.body)).toBe(0);
  return created.body.id as number;
}

function finalSubtask(id: number, timeoutMs = 150_000) {
  return waitUntil(
    async () => {
      const r = await srv.api('GET', `/api/v1/server/task?id=${id}`);
      const s = r.body.subtasks?.[0];
      return s && ['SUCCESS', 'FAILED', 'BURIED', 'REVOKED'].includes(s.state) ? s : undefined;
    },
    { timeoutMs, what: `task ${id} final` },
  ) as Promise<{ state: string; errcode: number; message: string }>;
}

async function host(): Promise<{ curvers: string; agents: { name: string; pid?: number; status: string }[] }> {
  return (await srv.api('GET', `/api/v1/server/agent?agentsn=${agentsn}`)).body.host;
}

/** Every process whose command line carries `-d STATE`: the BootAgents of this test (sub-agents have no -d). */
function bootPids(): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('-d');
      if (i >= 0 && argv[i + 1] === stateDir && argv.includes('-f')) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

let logOffset = 0;
/** Wait for a log line (msg regex) written after the last mark(). */
async function waitLog(
  re: RegExp,
  where: (l: Record<string, unknown>) => boolean = () => true,
  timeoutMs = 90_000,
): Promise<Record<string, unknown>> {
  return waitUntil(
    () => {
      let text = '';
      try {
        text = readFileSync(logFile, 'utf8').slice(logOffset);
      } catch {
        return undefined;
      }
      for (const l of text.split('\n')) {
        if (!l) continue;
        try {
          const j = JSON.parse(l) as Record<string, unknown>;
          if (typeof j.msg === 'string' && re.test(j.msg) && where(j)) return j;
        } catch {
          /* half a line */
        }
      }
      return undefined;
    },
    { timeoutMs, intervalMs: 20, what: `log ${re}` },
  );
}
function mark(): void {
  try {
    logOffset = readFileSync(logFile, 'utf8').length;
  } catch {
    logOffset = 0;
  }
}

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
  ] as const)
    binaries[v] = await buildBoot(v, bad);
  console.error(`boot-self-upgrade: three single executables built in ${(Date.now() - t0) / 1000} s`);
  srv = await startAspire();
  for (const v of [A, B, BAD]) await upload(v);
  const sub = await packFixture({ fixture: 'idle-agent', name: SUB, version: '1.0.0', outDir: work });
  const q = new URLSearchParams({ name: SUB, version: '1.0.0', os: 'linux', arch: 'x86_64', file: `${SUB}.tar.gz` });
  await fetch(`${srv.url}/api/v1/server/package?${q}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/octet-stream' },
    body: readFileSync(sub.file),
  });

  // The host layout: the executable in a bin dir (what the unit's ExecStart names), state beside it.
  const hostDir = join(work, 'host');
  mkdirSync(join(hostDir, 'bin'), { recursive: true });
  target = join(hostDir, 'bin', 'boot');
  copyFileSync(binaries[A]!, target);
  stateDir = join(hostDir, 'state');
  logFile = join(hostDir, 'boot.log');
  config = join(hostDir, 'boot.json');
  writeConfig(HEALTHY_SEC);
  sup = new Supervisor(target, ['-f', '-c', config, '-d', stateDir, '-L', logFile, '-P', join(hostDir, 'boot.pid')]);
  sup.start();
  agentsn = (
    await waitUntil(
      () => {
        try {
          const m = JSON.parse(readFileSync(join(stateDir, 'meta.json'), 'utf8')) as {
            trusted: boolean;
            agentsn: string;
          };
          return m.trusted ? m : undefined;
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 60_000, what: 'boot A trusted' },
    )
  ).agentsn;
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

describe('BootAgent self-upgrade on single executables under a Restart=always supervisor', () => {
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
    const q = new URLSearchParams({
      name: 'BootAgent',
      version: '9.9.9',
      os: 'linux',
      arch: 'x86_64',
      file: 'not-boot',
    });
    await fetch(`${srv.url}/api/v1/server/package?${q}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/octet-stream' },
      body: readFileSync(junk),
    });
    const s = await finalSubtask(await createTask('upgrade', { name: 'BootAgent', version: '9.9.9' }));
    expect(s.state).toBe('FAILED');
    expect(s.errcode).toBe(ErrorCode.JOB_BAD_PACKAGE);
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
