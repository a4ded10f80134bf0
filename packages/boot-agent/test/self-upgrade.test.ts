// SelfUpgrade's decisions at start (settle) and in the health window, from a table of marker
// steps and of which version starts: the result or exec each one gives, the swap on disk, the
// journal. Files stand in for the executables (nothing is exec'd here; the e2e suite
// test/e2e/boot-self-upgrade.test.ts runs the real binaries).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@aspire/agent-core';
import { ErrorCode } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { describe, expect, it } from 'vitest';
import { markerFile, readMarker, writeMarker, type SelfUpgradeMarker } from '../src/self-upgrade/marker.ts';
import { SelfUpgrade, type ExecRequest } from '../src/self-upgrade/self-upgrade.ts';
import { JobJournal } from '../src/state/job-journal.ts';

const A = '1.0.0';
const B = '2.0.0';

function host() {
  const dir = mkdtempSync(join(tmpdir(), 'boot-selfup-'));
  const stateDir = join(dir, 'state');
  mkdirSync(join(stateDir, 'self-upgrade', 'new'), { recursive: true });
  const target = join(dir, 'boot');
  const staged = join(stateDir, 'self-upgrade', 'new', 'boot');
  writeFileSync(target, 'build A');
  writeFileSync(staged, 'build B');
  const clock = new ManualClock();
  const marker = (m: Partial<SelfUpgradeMarker>): SelfUpgradeMarker => ({
    version: 1,
    jobId: 'job-1',
    step: 'trial',
    kind: 'binary',
    from: A,
    to: B,
    target,
    staged,
    at: clock.now(),
    deadline: clock.now() + 10_000,
    ...m,
  });
  /** A SelfUpgrade as the build `version` running from `file`. */
  const su = (version: string, file: string) =>
    new SelfUpgrade({
      stateDir,
      logger: silentLogger(),
      clock,
      healthySec: 10,
      downloadMaxBytes: 1 << 20,
      args: ['-f'],
      image: { file, launcher: 'sea' },
      version,
    });
  /** The journal as boot opens it: the job `started`, kept so when the SelfUpgrade resumes it. */
  const journal = async (s: SelfUpgrade) => {
    const pre = await JobJournal.open({ stateDir, clock, eventQueueMax: 100 });
    if (pre.journal.lookup('job-1').kind === 'new') await pre.journal.begin('job-1', 'upgrade');
    return (await JobJournal.open({ stateDir, clock, eventQueueMax: 100, resumable: s.resumableJobIds() })).journal;
  };
  const attach = async (s: SelfUpgrade, jobsIdle?: () => Promise<void>) => {
    const execs: ExecRequest[] = [];
    const j = await journal(s);
    await s.attach({ journal: j, requestExec: (r) => execs.push(r), ...(jobsIdle ? { jobsIdle } : {}) });
    const result = () => j.payload().jobs.find((r) => r.id === 'job-1');
    const events = () =>
      j.payload().events.map((e) => `${e.kind}:${(e.data as { step?: string } | undefined)?.step ?? ''}`);
    return { execs, j, result, events };
  };
  return { dir, stateDir, target, staged, clock, marker, su, attach };
}

describe('SelfUpgrade.settle and the health window', () => {
  it('no marker: nothing to do', async () => {
    const h = host();
    const s = h.su(A, h.target);
    expect(await s.settle()).toBeUndefined();
    expect(s.resumableJobIds().size).toBe(0);
  });

  it('fetch: staged files and marker removed, the job left for the journal to report interrupted', async () => {
    const h = host();
    writeMarker(h.stateDir, h.marker({ step: 'fetch' }));
    const s = h.su(A, h.target);
    expect(await s.settle()).toBeUndefined();
    expect(s.resumableJobIds().size).toBe(0);
    expect(existsSync(h.staged)).toBe(false);
    expect(existsSync(markerFile(h.stateDir))).toBe(false);
    expect(readFileSync(h.target, 'utf8')).toBe('build A');
  });

  it('trial, the new version from its staged copy: passes once adopted and a push is answered, swaps, execs the target', async () => {
    const h = host();
    writeMarker(h.stateDir, h.marker({}));
    const s = h.su(B, h.staged);
    expect(await s.settle()).toBeUndefined();
    expect([...s.resumableJobIds()]).toEqual(['job-1']);
    const t = await h.attach(s);
    s.pushAnswered(); // not adopted yet: no decision
    expect(t.execs).toHaveLength(0);
    s.adopted();
    s.pushAnswered();
    await new Promise((r) => setTimeout(r, 50));
    expect(t.execs).toHaveLength(1);
    expect(t.execs[0]!.cmd).toBe(h.target);
    expect(t.execs[0]!.argv).toEqual([h.target, '-f']);
    expect(readFileSync(h.target, 'utf8')).toBe('build B');
    expect(readFileSync(`${h.target}.previous`, 'utf8')).toBe('build A');
    const m = readMarker(h.stateDir);
    expect(m.kind === 'ok' && m.marker.step).toBe('commit');
    expect(t.events()).toContain('self_upgrade:healthy');
    expect(t.result()).toBeUndefined();
  });

  it('after the commit the exec waits for the jobs the new version took in its window', async () => {
    const h = host();
    writeMarker(h.stateDir, h.marker({}));
    const s = h.su(B, h.staged);
    await s.settle();
    let jobsDone: () => void = () => undefined;
    const t = await h.attach(s, () => new Promise<void>((r) => (jobsDone = r)));
    s.adopted();
    s.pushAnswered();
    await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(h.target, 'utf8')).toBe('build B'); // in place already
    expect(t.execs).toHaveLength(0); // but a job still runs
    jobsDone();
    await new Promise((r) => setTimeout(r, 20));
    expect(t.execs).toHaveLength(1);
  });

  it('trial: the window passes without an answered push: rollback marker, the old target exec d', async () => {
    const h = host();
    writeMarker(h.stateDir, h.marker({}));
    const s = h.su(B, h.staged);
    await s.settle();
    const t = await h.attach(s);
    s.adopted();
    await h.clock.advance(10_001);
    expect(t.execs).toHaveLength(1);
    expect(t.execs[0]!.cmd).toBe(h.target);
    const m = readMarker(h.stateDir);
    expect(m.kind === 'ok' && m.marker.step).toBe('rollback');
    expect(m.kind === 'ok' && m.marker.reason).toMatch(/no status push was answered within 10 s/);
    expect(readFileSync(h.target, 'utf8')).toBe('build A');
    s.pushAnswered(); // too late: nothing more
    expect(t.execs).toHaveLength(1);
  });

  it('trial, but the old version starts (the new one died): JOB_ROLLED_BACK journaled, marker and staging gone', async () => {
    const h = host();
    writeMarker(h.stateDir, h.marker({}));
    const s = h.su(A, h.target);
    expect(await s.settle()).toBeUndefined();
    const t = await h.attach(s);
    expect(t.result()).toMatchObject({ errcode: ErrorCode.JOB_ROLLED_BACK });
    expect(t.result()!.message).toMatch(/2\.0\.0 ended before its health window passed.*BootAgent 1\.0\.0 runs/);
    expect(t.events()).toContain('rollback:');
    expect(existsSync(markerFile(h.stateDir))).toBe(false);
    expect(existsSync(h.staged)).toBe(false);
  });

  it('rollback marker seen by the new version: exec the target; by the old one: the result', async () => {
    const h = host();
    writeMarker(h.stateDir, h.marker({ step: 'rollback', reason: 'because' }));
    const onNew = await h.su(B, h.staged).settle();
    expect(onNew?.cmd).toBe(h.target);
    const s = h.su(A, h.target);
    expect(await s.settle()).toBeUndefined();
    const t = await h.attach(s);
    expect(t.result()).toMatchObject({ errcode: ErrorCode.JOB_ROLLED_BACK });
    expect(t.result()!.message).toMatch(/because/);
  });

  it('commit seen by the old version (killed mid-swap): finishes the swap and execs it; the new one reports success', async () => {
    const h = host();
    writeMarker(h.stateDir, h.marker({ step: 'commit' }));
    const r = await h.su(A, h.target).settle();
    expect(r?.cmd).toBe(h.target);
    expect(readFileSync(h.target, 'utf8')).toBe('build B');
    expect(readFileSync(`${h.target}.previous`, 'utf8')).toBe('build A');
    // The swap again (a second kill): the target already is B, the previous stays A.
    const s = h.su(B, h.target);
    expect(await s.settle()).toBeUndefined();
    expect(readFileSync(`${h.target}.previous`, 'utf8')).toBe('build A');
    const t = await h.attach(s);
    expect(t.result()).toMatchObject({ errcode: ErrorCode.OK });
    expect(t.result()!.message).toMatch(/upgraded from 1\.0\.0 to 2\.0\.0/);
    expect(t.events()).toContain('upgraded:');
    expect(existsSync(markerFile(h.stateDir))).toBe(false);
  });

  it('a result already journaled is not journaled twice; execs past the bound stop the chain', async () => {
    const h = host();
    writeMarker(h.stateDir, h.marker({ step: 'commit' }));
    const first = h.su(B, h.target);
    writeFileSync(h.target, 'build B');
    await first.settle();
    const t1 = await h.attach(first);
    expect(t1.result()?.errcode).toBe(ErrorCode.OK);
    // Died before removing the marker: the next start finds it again.
    writeMarker(h.stateDir, h.marker({ step: 'commit' }));
    const again = h.su(B, h.target);
    await again.settle();
    const t2 = await h.attach(again);
    expect(t2.j.lookup('job-1')).toMatchObject({
      kind: 'pending',
      entry: { state: 'finished', errcode: ErrorCode.OK },
    });

    const h2 = host();
    writeMarker(h2.stateDir, h2.marker({ step: 'rollback', hops: 4 }));
    const s = h2.su(B, h2.target); // B on the target after a rollback: something lies about versions
    expect(await s.settle()).toBeUndefined();
    const t3 = await h2.attach(s);
    expect(t3.result()!.message).toMatch(/gave up after 4 restarts/);
  });

  it('an unreadable marker is discarded', async () => {
    const h = host();
    writeFileSync(markerFile(h.stateDir), '{not json');
    expect(await h.su(A, h.target).settle()).toBeUndefined();
    expect(existsSync(markerFile(h.stateDir))).toBe(false);
  });
});
