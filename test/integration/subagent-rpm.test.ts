// .rpm sub-agents with the REAL rpm (private --dbpath, files under the test's temp dir): install
// over HTTP, upgrade rolled back to the old rpm, command:// install (docs/design.md §5), uninstall = rpm -e.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, realClock, silentLogger } from '@aspire/agent-core';
import { ErrorCode, type EventKind, type SubAgentJob } from '@aspire/protocol';
import type { SubAgentManager, SupervisionConfig } from '../../packages/boot-agent/src/contracts.ts';
import { createSubAgentManager } from '../../packages/boot-agent/src/subagents/manager.ts';
import { packFixtureRpm } from '../../packages/testing/fixtures/pack-fixture-rpm.ts';
import { startPackageServer, type PackageServer } from '../../packages/testing/fixtures/package-server.ts';
import { QUICK_SUPERVISION } from '../../packages/testing/fixtures/subagent-test-kit.ts';

// No cgroup root here: these agents have no limits (the watchdog is picked and stays idle).
const cfg: SupervisionConfig = { ...QUICK_SUPERVISION, cgroupRoot: '/nonexistent-no-limits-needed' };

let work: string;
let dbpath: string;
let installDir: string;
let srv: PackageServer;
let m: SubAgentManager;
const events: EventKind[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-rpm-'));
  dbpath = join(work, 'rpmdb');
  installDir = join(work, 'root');
  srv = await startPackageServer();
  m = createSubAgentManager({
    clock: realClock,
    logger: silentLogger(),
    events: { emit: (k) => events.push(k) },
    stateDir: join(work, 'state'),
    config: cfg,
    rpm: { dbpath },
  });
  await m.start();
});

afterAll(async () => {
  for (const r of m.reports())
    if (r.pid)
      try {
        process.kill(-r.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  await m.stop();
  await srv.close();
  rmSync(work, { recursive: true, force: true });
});

const rpmQ = (name: string) => {
  try {
    return execFileSync('rpm', ['--dbpath', dbpath, '-q', '--qf', '%{VERSION}-%{RELEASE}', name], {
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
  } catch {
    return undefined;
  }
};
let seq = 0;
const job = (action: SubAgentJob['action'], name: string, extra: Partial<SubAgentJob> = {}): SubAgentJob => ({
  id: `r${++seq}`,
  action,
  name,
  ...extra,
});
const sig = () => new AbortController().signal;
const report = (name: string) => m.reports().find((r) => r.name === name);

describe('rpm sub-agents (real rpm, private database)', () => {
  it('installs an rpm over HTTP, rolls a crashing upgrade back to the old rpm, uninstalls with rpm -e', async () => {
    const v1 = await packFixtureRpm({
      fixture: 'idle-agent',
      name: 'RpmAgent',
      version: '1.0.0',
      outDir: work,
      installDir,
    });
    const out = await m.handleJob(
      job('install', 'RpmAgent', { url: srv.put('/a1.rpm', v1.file), checksum: v1.checksum }),
      sig(),
    );
    expect(out, out.message).toMatchObject({ errcode: 0 });
    expect(rpmQ('RpmAgent')).toBe('1.0.0-1');
    expect(report('RpmAgent')).toMatchObject({ version: '1.0.0-1', status: 'running' });

    const v2 = await packFixtureRpm({
      fixture: 'crash-agent',
      name: 'RpmAgent',
      version: '2.0.0',
      outDir: work,
      installDir,
    });
    const up = await m.handleJob(
      job('upgrade', 'RpmAgent', { url: srv.put('/a2.rpm', v2.file), checksum: v2.checksum }),
      sig(),
    );
    expect(up.errcode, up.message).toBe(ErrorCode.JOB_ROLLED_BACK);
    expect(rpmQ('RpmAgent')).toBe('1.0.0-1'); // the old rpm is back in the database
    expect(report('RpmAgent')).toMatchObject({ version: '1.0.0-1', status: 'running' });
    expect(events).toContain('rollback');

    const pid = report('RpmAgent')!.pid!;
    expect((await m.handleJob(job('uninstall', 'RpmAgent'), sig())).errcode).toBe(0);
    expect(isAlive(pid)).toBe(false);
    expect(rpmQ('RpmAgent')).toBeUndefined();
    expect(existsSync(join(installDir, 'RpmAgent-1.0.0', 'agent.mjs'))).toBe(false);
  });

  it('an rpm for another name is refused before anything is installed', async () => {
    const other = await packFixtureRpm({
      fixture: 'idle-agent',
      name: 'SomeoneElse',
      version: '1.0.0',
      outDir: work,
      installDir,
    });
    const out = await m.handleJob(
      job('install', 'Mine', { url: srv.put('/other.rpm', other.file), checksum: other.checksum }),
      sig(),
    );
    expect(out.errcode).toBe(ErrorCode.JOB_BAD_PACKAGE);
    expect(rpmQ('SomeoneElse')).toBeUndefined();
    expect(report('Mine')).toBeUndefined();
  });

  it('command:// runs the command as argv (no shell) and supervises what it installed', async () => {
    const p = await packFixtureRpm({
      fixture: 'idle-agent',
      name: 'MiniAgent',
      version: '0.3.0',
      outDir: work,
      installDir,
    });
    const out = await m.handleJob(
      job('install', 'MiniAgent', { url: `command://rpm --dbpath ${dbpath} -U ${p.file}` }),
      sig(),
    );
    expect(out, out.message).toMatchObject({ errcode: 0 });
    expect(report('MiniAgent')).toMatchObject({ version: '0.3.0-1', status: 'running' });
    // No shell: a `;` is an argument, not a second command.
    const bad = await m.handleJob(
      job('install', 'Nope', { url: `command://rpm -q Nope ; touch ${join(work, 'pwned')}` }),
      sig(),
    );
    expect(bad.errcode).toBe(ErrorCode.JOB_INSTALL_FAILED);
    expect(existsSync(join(work, 'pwned'))).toBe(false);
    expect((await m.handleJob(job('uninstall', 'MiniAgent'), sig())).errcode).toBe(0);
    expect(rpmQ('MiniAgent')).toBeUndefined();
  });
});
