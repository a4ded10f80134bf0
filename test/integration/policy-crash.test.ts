// A policy-driven install cut short by kill -9 of the BootAgent (real server, real boot, real
// sub-agent process): the change is journaled before it runs, so the next start reports it
// JOB_INTERRUPTED and never runs it again; the next pass finds the sub-agent there (adopted, the
// same process) and reports the policy applied. One process, one `installed` event
// (docs/lifecycle.md "Desired state — on the host").
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '@aspire/agent-core';
import { type AspireHandle, type BootHandle, startAspire, startBoot, waitUntil } from '@aspire/testing';
import { packFixture } from '../../packages/testing/fixtures/pack-fixture.ts';

const ARCH = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
const API = '/api/v1/server';

let srv: AspireHandle;
let work: string;
const boots: BootHandle[] = [];
let agentPid: number | undefined;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-policy-crash-'));
  srv = await startAspire();
  // start_delay holds the install job open for a while after the agent started: the kill lands there.
  const p = await packFixture({
    fixture: 'idle-agent',
    name: 'Slow',
    version: '1.0.0',
    outDir: work,
    spec: { start_delay: 20 },
  });
  const q = new URLSearchParams({ name: 'Slow', version: '1.0.0', os: 'linux', arch: ARCH, file: 'Slow-1.0.0.tar.gz' });
  const up = await fetch(`${srv.url}${API}/package?${q}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/octet-stream' },
    body: readFileSync(p.file),
  });
  expect(up.status, await up.clone().text()).toBe(200);
}, 60_000);

afterAll(async () => {
  for (const b of boots) await b.stop().catch(() => undefined);
  if (agentPid && isAlive(agentPid))
    try {
      process.kill(-agentPid, 'SIGKILL');
    } catch {
      /* gone */
    }
  await srv?.stop();
});

/** Live processes that are this boot's `Slow` (by the environment entry every spawn gets). */
function slowProcesses(stateDir: string): number[] {
  const home = `ASPIRE_AGENT_HOME=${join(stateDir, 'agents', 'Slow')}`;
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(home)) out.push(Number(d));
    } catch {
      /* gone or not ours */
    }
  }
  return out;
}

describe('a policy change cut short by kill -9', () => {
  it('is reported interrupted, never run twice; the host converges with the one process', async () => {
    const crontab = join(work, 'crontab');
    writeFileSync(crontab, '');
    const config = { policy: { crontab }, supervision: { checkIntervalSec: 0.5, restartHoldSec: 1 } };
    const first = await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, config });
    boots.push(first);
    await waitUntil(() => first.readMeta()?.trusted === true, { timeoutMs: 30_000, what: 'trusted' });
    const sn = first.readMeta()!.agentsn;
    const put = await srv.api('PUT', `${API}/policy/host/${sn}`, { subagents: [{ name: 'Slow', version: '1.0.0' }] });
    expect(put.status, JSON.stringify(put.body)).toBe(200);

    // The install runs: journaled `policy-...`, the agent started, the job waiting out start_delay.
    const journaled = await first.waitForLog(/^policy change journaled$/, { timeoutMs: 30_000 });
    const jobId = String(journaled.jobId);
    expect(jobId).toMatch(/^policy-[0-9a-f]{16}-1-0$/);
    agentPid = await waitUntil(
      () => {
        try {
          return JSON.parse(readFileSync(join(first.stateDir, 'agents', 'Slow', 'state.json'), 'utf8')).pid as number;
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 30_000, what: 'Slow started' },
    );
    expect(first.readJournal()!.jobs.find((j) => j.id === jobId)?.state).toBe('started');
    // The `installed` event is written to the journal without its emitter waiting for the disk (an
    // event must not hold up a job): kill only once it is on disk or already at the server, or a
    // busy machine makes this test about that millisecond window instead of the interrupted change.
    await waitUntil(
      async () => {
        const onDisk = (first.readJournal()?.events ?? []) as { kind?: string; agent?: string }[];
        if (onDisk.some((e) => e.kind === 'installed' && e.agent === 'Slow')) return true;
        const r = await srv.api('GET', `${API}/event?agentsn=${sn}&limit=200`);
        return (r.body?.events as { kind: string; agent?: string }[] | undefined)?.some(
          (e) => e.kind === 'installed' && e.agent === 'Slow',
        );
      },
      { timeoutMs: 15_000, what: 'the installed event journaled or pushed' },
    );
    await first.kill9();

    const second = await startBoot({
      serverUrl: srv.url,
      stateDir: first.stateDir,
      logFile: first.logFile,
      config,
    });
    boots.push(second);
    await second.waitForLog(/was running when the agent last stopped/, {
      where: (l) => l.jobId === jobId,
      timeoutMs: 30_000,
    });
    await waitUntil(
      async () => {
        const r = await srv.api('GET', `${API}/host/${sn}/policy`);
        return r.body?.in_sync === true;
      },
      { timeoutMs: 60_000, what: 'in sync after the restart' },
    );
    // Adopted, not installed again: the same process, alone, and one `installed` event.
    expect(isAlive(agentPid)).toBe(true);
    expect(slowProcesses(first.stateDir)).toEqual([agentPid]);
    const ev = await srv.api('GET', `${API}/event?agentsn=${sn}&limit=200`);
    const kinds = (ev.body.events as { kind: string; agent?: string }[])
      .filter((e) => e.agent === 'Slow')
      .map((e) => e.kind);
    expect(kinds.filter((k) => k === 'installed')).toHaveLength(1);
    expect(kinds).toContain('adopted');
    // The interrupted change was not run again: no second journal record for a policy change of pass 1.
    const journaledAgain = second.logLines().filter((l) => l.msg === 'policy change journaled' && l.jobId === jobId);
    expect(journaledAgain).toHaveLength(1);
  }, 180_000);
});
