// An upgrade cut short by kill -9 of the BootAgent in its health window, through the REAL
// server and a REAL boot: the restarted boot finishes the step its upgrade marker names, and the
// job's reported result matches what runs on the host (success and the new version current, or
// a rollback and the old version current). Also: no boot log line repeats a key.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, processStartTicks } from '@aspire/agent-core';
import { ErrorCode } from '@aspire/protocol';
import { startAspire, startBoot, waitUntil, type AspireHandle, type BootHandle } from '@aspire/testing';
import { duplicateKeys } from '../../packages/testing/fixtures/duplicate-keys.ts';
import { packFixture, type FixtureName } from '../../packages/testing/fixtures/pack-fixture.ts';
import { QUICK_SUPERVISION } from '../../packages/testing/fixtures/subagent-test-kit.ts';

// A health window long enough to kill boot inside it on a loaded machine.
const SUPERVISION = { ...QUICK_SUPERVISION, upgradeHealthySec: 8 };
const SUFFIX = randomBytes(3).toString('hex');
const N = (base: string) => `${base}-${SUFFIX}`;

let srv: AspireHandle;
let boot: BootHandle;
let stateDir: string;
let agentsn: string;
let work: string;
const bootOpts = () => ({
  serverUrl: srv.url,
  enrollSecret: srv.enrollSecret,
  step: 0.3 as number,
  config: { supervision: SUPERVISION, logLevel: 'debug' },
});

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-upresume-'));
  srv = await startAspire();
  boot = await startBoot(bootOpts());
  stateDir = boot.stateDir;
  agentsn = (
    await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta() : undefined), {
      timeoutMs: 30_000,
      what: 'trusted',
    })
  ).agentsn;
});

afterAll(async () => {
  for (const a of (await hostAgents().catch(() => [])) as { pid?: number }[])
    if (a.pid)
      try {
        process.kill(-a.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  await boot?.stop();
  await srv?.stop();
  boot?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

async function upload(fixture: FixtureName, name: string, version: string) {
  const p = await packFixture({ fixture, name, version, outDir: work });
  const q = new URLSearchParams({ name, version, os: 'linux', arch: 'x86_64', file: `${name}-${version}.tar.gz` });
  const res = await fetch(`${srv.url}/api/v1/server/package?${q}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/octet-stream' },
    body: readFileSync(p.file),
  });
  expect(((await res.json()) as { status: number }).status).toBe(0);
  return { name, version };
}

async function createTask(command: string, parameters: Record<string, unknown>): Promise<number> {
  const created = await srv.api('POST', '/api/v1/server/task', { command, agents: [agentsn], parameters });
  expect(created.body.status, JSON.stringify(created.body)).toBe(0);
  return created.body.id as number;
}

function finalSubtask(id: number, timeoutMs = 60_000) {
  return waitUntil(
    async () => {
      const r = await srv.api('GET', `/api/v1/server/task?id=${id}`);
      const s = r.body.subtasks?.[0];
      return s && ['SUCCESS', 'FAILED', 'BURIED', 'REVOKED'].includes(s.state) ? s : undefined;
    },
    { timeoutMs, what: `task ${id} final` },
  ) as Promise<{ state: string; errcode: number; message: string }>;
}

async function hostAgents(): Promise<
  { name: string; version: string; status: string; pid?: number; prevers?: string }[]
> {
  const r = await srv.api('GET', `/api/v1/server/agent?agentsn=${agentsn}`);
  return r.body.host?.agents ?? [];
}

const current = (name: string) =>
  (
    JSON.parse(readFileSync(join(stateDir, 'agents', name, 'state.json'), 'utf8')) as {
      current: string;
      previous?: string;
    }
  ).current;

/** Start the upgrade, wait until boot started the new version (its health window runs), kill -9 boot. */
async function killBootInHealthWindow(name: string, to: string): Promise<{ id: number; pid: number }> {
  const id = await createTask('upgrade', { name, version: to });
  const started = await boot.waitForLog(/^sub-agent started$/, {
    timeoutMs: 30_000,
    where: (l) => l.agent === name && l.version === to,
  });
  const pid = Number(started.agentPid ?? started.pid);
  await boot.kill9();
  // Killed inside the window: the job had no result yet.
  const r = await srv.api('GET', `/api/v1/server/task?id=${id}`);
  expect(['SUCCESS', 'FAILED']).not.toContain(r.body.subtasks?.[0]?.state);
  return { id, pid };
}

describe('an upgrade cut short in its health window (kill -9 or SIGTERM of boot)', () => {
  it('healthy new version: the restarted boot finishes the window and reports success; the new version is current and the same process runs', async () => {
    const name = N('Resume');
    const v1 = await upload('idle-agent', name, '1.0.0');
    await upload('idle-agent', name, '2.0.0');
    expect((await finalSubtask(await createTask('install', v1))).state).toBe('SUCCESS');
    const { id, pid } = await killBootInHealthWindow(name, '2.0.0');
    const ticks = processStartTicks(pid);
    expect(isAlive(pid)).toBe(true);
    boot = await startBoot({ ...bootOpts(), stateDir, logFile: boot.logFile });
    const sub = await finalSubtask(id);
    // The result matches the host: success, and 2.0.0 is what is installed and runs.
    expect(sub, JSON.stringify(sub)).toMatchObject({ state: 'SUCCESS', errcode: 0 });
    expect(sub.message).toMatch(/upgraded 1\.0\.0 -> 2\.0\.0/);
    expect(current(name)).toBe('2.0.0');
    const a = await waitUntil(async () => (await hostAgents()).find((x) => x.name === name && x.status === 'running'), {
      what: 'listed running',
    });
    expect(a).toMatchObject({ version: '2.0.0', prevers: '1.0.0', pid });
    expect(processStartTicks(pid)).toBe(ticks); // adopted and watched, not restarted
    expect(existsSync(join(stateDir, 'agents', name, 'upgrade.json'))).toBe(false);
  });

  it('new version gone while boot was down: the restarted boot rolls back and reports it; the old version is current and running', async () => {
    const name = N('Back');
    const v1 = await upload('idle-agent', name, '1.0.0');
    await upload('idle-agent', name, '2.0.0');
    expect((await finalSubtask(await createTask('install', v1))).state).toBe('SUCCESS');
    const { id, pid } = await killBootInHealthWindow(name, '2.0.0');
    process.kill(-pid, 'SIGKILL'); // the new version dies inside its window, unseen
    await waitUntil(() => !isAlive(pid), { what: 'new version gone' });
    boot = await startBoot({ ...bootOpts(), stateDir, logFile: boot.logFile });
    const sub = await finalSubtask(id);
    expect(sub, JSON.stringify(sub)).toMatchObject({ state: 'FAILED', errcode: ErrorCode.JOB_ROLLED_BACK });
    expect(sub.message).toMatch(/rolled back to 1\.0\.0 and running/);
    expect(current(name)).toBe('1.0.0');
    const a = await waitUntil(async () => (await hostAgents()).find((x) => x.name === name && x.status === 'running'), {
      what: 'old version running',
    });
    expect(a.version).toBe('1.0.0');
    expect(isAlive(a.pid!)).toBe(true);
    expect(existsSync(join(stateDir, 'agents', name, 'versions', '2.0.0'))).toBe(false);
  });

  it('a clean stop (SIGTERM) in the health window is not reported as an interruption: the next boot finishes the window and reports success', async () => {
    const name = N('Term');
    const v1 = await upload('idle-agent', name, '1.0.0');
    await upload('idle-agent', name, '2.0.0');
    expect((await finalSubtask(await createTask('install', v1))).state).toBe('SUCCESS');
    const id = await createTask('upgrade', { name, version: '2.0.0' });
    const started = await boot.waitForLog(/^sub-agent started$/, {
      timeoutMs: 30_000,
      where: (l) => l.agent === name && l.version === '2.0.0',
    });
    expect((await boot.stop()).code).toBe(0);
    // No result recorded: the job stays started for the next start to finish.
    expect(
      boot
        .readJournal()!
        .jobs.filter((j) => j.state === 'started')
        .map((j) => (j as { action?: string }).action),
    ).toEqual(['upgrade']);
    boot = await startBoot({ ...bootOpts(), stateDir, logFile: boot.logFile });
    const sub = await finalSubtask(id);
    expect(sub, JSON.stringify(sub)).toMatchObject({ state: 'SUCCESS', errcode: 0 });
    expect(current(name)).toBe('2.0.0');
    expect(Number(started.agentPid)).toBe((await hostAgents()).find((x) => x.name === name)?.pid);
  });

  it('no line of the boot log (both boots, every component) repeats a key', () => {
    const lines = readFileSync(boot.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim());
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.some((l) => l.includes('"component":"subagents"'))).toBe(true);
    const repeated = lines.map((l) => ({ l, dups: duplicateKeys(l) })).filter((x) => x.dups.length > 0);
    expect(repeated.slice(0, 3)).toEqual([]);
  });
});
