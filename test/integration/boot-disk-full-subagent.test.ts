// A full state disk under a supervising boot (a real tmpfs, mounted for the test; needs root, as
// CI runs): a sub-agent that crashes while the disk is full is restarted and kept track of in
// memory (boot stays up), its state is saved once space returns (events say full / recovered),
// and after kill -9 of boot the restarted boot adopts the one running copy instead of starting a
// second one: also when boot died before the new pid could be saved (found by its environment).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from '@aspire/agent-core';
import { startAspire, startBoot, waitUntil, type AspireHandle, type BootHandle } from '@aspire/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duplicateKeys } from '../../packages/testing/fixtures/duplicate-keys.ts';
import { packFixture } from '../../packages/testing/fixtures/pack-fixture.ts';
import { QUICK_SUPERVISION } from '../../packages/testing/fixtures/subagent-test-kit.ts';

const mnt = mkdtempSync(join(tmpdir(), 'boot-full-sub-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt], { stdio: 'ignore' });
  mounted = true;
} catch {
  /* mount refused (not root): the suite is skipped (it says so) */
}

const NAME = `Full-${randomBytes(3).toString('hex')}`;
const stateDir = join(mnt, 'state');
let work: string;
let logDir: string;
let srv: AspireHandle;
let boot: BootHandle;
let agentsn: string;
const bootOpts = () => ({
  serverUrl: srv.url,
  enrollSecret: srv.enrollSecret,
  step: 0.3 as number,
  stateDir,
  logFile: join(logDir, 'boot.log'),
  config: { supervision: QUICK_SUPERVISION },
});

beforeAll(async () => {
  if (!mounted) return;
  work = mkdtempSync(join(tmpdir(), 'aspire-fullsub-'));
  logDir = join(work, 'log');
  srv = await startAspire();
  boot = await startBoot(bootOpts());
  agentsn = (
    await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta() : undefined), {
      timeoutMs: 30_000,
      what: 'trusted',
    })
  ).agentsn;
});

afterAll(async () => {
  for (const pid of copies())
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  await boot?.stop();
  await srv?.stop();
  boot?.cleanup();
  if (mounted) execFileSync('umount', [mnt]);
  rmSync(mnt, { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Fill the file system to the last byte. */
function fill(): void {
  const fd = openSync(join(mnt, 'fill'), 'w');
  const chunk = Buffer.alloc(4096);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}
const free = () => unlinkSync(join(mnt, 'fill'));

/** Live processes running this sub-agent's program (its name in the environment), by pid. */
function copies(): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return (
          readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('agent.mjs') &&
          readFileSync(`/proc/${p}/environ`, 'utf8').includes(`ASPIRE_AGENT_NAME=${NAME}\0`) &&
          isAlive(Number(p))
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

const savedPid = () =>
  (JSON.parse(readFileSync(join(stateDir, 'agents', NAME, 'state.json'), 'utf8')) as { pid?: number }).pid;

async function listedPid(): Promise<number | undefined> {
  const r = await srv.api('GET', `/api/v1/server/agent?agentsn=${agentsn}`);
  const a = ((r.body.host?.agents ?? []) as { name: string; status: string; pid?: number }[]).find(
    (x) => x.name === NAME,
  );
  return a?.status === 'running' ? a.pid : undefined;
}

async function serverEvents(kind: string): Promise<{ kind: string; message: string }[]> {
  const r = await srv.api('GET', `/api/v1/server/event?agentsn=${agentsn}&kind=${kind}&limit=100`);
  return r.body.events ?? [];
}

/** SIGKILL the running copy and wait until boot has restarted it (a new pid listed on the server). */
async function crashAndAwaitRestart(pid: number): Promise<number> {
  process.kill(-pid, 'SIGKILL');
  return waitUntil(
    async () => {
      const p = await listedPid();
      return p !== undefined && p !== pid ? p : undefined;
    },
    { timeoutMs: 30_000, what: 'restarted copy listed' },
  );
}

async function restartBootAndAwaitAdoption(pid: number): Promise<void> {
  await boot.kill9();
  expect(isAlive(pid)).toBe(true); // the sub-agent outlives its supervisor
  boot = await startBoot(bootOpts());
  await boot.waitForLog(/^adopted running sub-agent$/, {
    timeoutMs: 30_000,
    where: (l) => l.agent === NAME && Number(l.agentPid) === pid,
  });
  // A few supervision ticks (0.2 s) and restart holds (1 s): nothing else may be started.
  await new Promise((r) => setTimeout(r, 2500));
  expect(copies()).toEqual([pid]);
  expect(await waitUntil(() => listedPid(), { what: 'listed after adoption' })).toBe(pid);
}

describe.skipIf(!mounted)('a full state disk under a supervising boot (tmpfs, root only)', () => {
  it('restarts a crashed sub-agent on a full disk without dying, saves it once space returns, and one copy runs after kill -9 of boot', async () => {
    const pkg = await packFixture({ fixture: 'idle-agent', name: NAME, version: '1.0.0', outDir: work });
    const q = new URLSearchParams({
      name: NAME,
      version: '1.0.0',
      os: 'linux',
      arch: 'x86_64',
      file: `${NAME}-1.0.0.tar.gz`,
    });
    const up = await fetch(`${srv.url}/api/v1/server/package?${q}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/octet-stream' },
      body: readFileSync(pkg.file),
    });
    expect(((await up.json()) as { status: number }).status).toBe(0);
    const created = await srv.api('POST', '/api/v1/server/task', {
      command: 'install',
      agents: [agentsn],
      parameters: { name: NAME, version: '1.0.0' },
    });
    expect(created.body.status).toBe(0);
    const pid1 = await waitUntil(() => listedPid(), { timeoutMs: 30_000, what: 'installed and running' });

    fill();
    const pid2 = await crashAndAwaitRestart(pid1);
    expect(boot.child.proc.exitCode).toBeNull(); // boot stayed up
    expect(savedPid()).toBe(pid1); // the new pid is only in memory: the disk is full
    await waitUntil(async () => (await serverEvents('disk_full')).length >= 1, {
      what: 'disk_full event on the server',
    });
    expect(copies()).toEqual([pid2]);

    free();
    await waitUntil(() => savedPid() === pid2, { timeoutMs: 10_000, what: 'state saved once space returned' });
    await waitUntil(async () => (await serverEvents('disk_recovered')).length >= 1, {
      what: 'disk_recovered event on the server',
    });
    expect(boot.logLines().filter((l) => String(l.msg).startsWith('state disk full')).length).toBe(1); // logged once
    expect(boot.child.proc.exitCode).toBeNull();
    await restartBootAndAwaitAdoption(pid2);
  });

  it('boot killed while the restarted pid could not be saved: the next boot finds the running copy by its environment and adopts it', async () => {
    const pid2 = (await listedPid())!;
    fill();
    const pid3 = await crashAndAwaitRestart(pid2);
    expect(savedPid()).toBe(pid2); // stale on disk
    await boot.kill9();
    expect(savedPid()).toBe(pid2); // boot died before it could save the new pid
    free();
    boot = await startBoot(bootOpts());
    await boot.waitForLog(/found by its environment/, {
      timeoutMs: 30_000,
      where: (l) => l.agent === NAME && Number(l.agentPid) === pid3,
    });
    await boot.waitForLog(/^adopted running sub-agent$/, {
      timeoutMs: 30_000,
      where: (l) => l.agent === NAME && Number(l.agentPid) === pid3,
    });
    await new Promise((r) => setTimeout(r, 2500));
    expect(copies()).toEqual([pid3]);
    expect(savedPid()).toBe(pid3);
  });

  it('no boot log line repeats a key', () => {
    const lines = readFileSync(join(logDir, 'boot.log'), 'utf8')
      .split('\n')
      .filter((l) => l.trim());
    expect(lines.filter((l) => duplicateKeys(l).length > 0).slice(0, 3)).toEqual([]);
  });
});
