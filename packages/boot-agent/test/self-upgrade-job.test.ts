// The `upgrade BootAgent` job in the old version, on bundle-style builds (a script the running
// node executes, as the test launchers run boot): verified and staged, then the trial marker and
// an exec of the staged copy; every refusal (not a BootAgent, another version, an rpm for a boot
// that is not from one, a bad checksum) leaves no marker, no staged file, and the same host.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { silentLogger } from '@aspire/agent-core';
import { ErrorCode, type SubAgentJob } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { describe, expect, it } from 'vitest';
import { machineArch } from '../src/loop/status-body.ts';
import { markerFile, readMarker } from '../src/self-upgrade/marker.ts';
import { SelfUpgrade, type ExecRequest } from '../src/self-upgrade/self-upgrade.ts';
import { JobJournal } from '../src/state/job-journal.ts';

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'boot-selfup-job-'));
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir);
  const target = join(dir, 'boot.cjs');
  writeFileSync(target, '// build A\n');
  const clock = new ManualClock();
  const su = new SelfUpgrade({
    stateDir,
    logger: silentLogger(),
    clock,
    healthySec: 30,
    downloadMaxBytes: 1 << 20,
    args: ['-f', '-d', stateDir],
    image: { file: target, launcher: 'node' },
    version: '1.0.0',
  });
  const { journal } = await JobJournal.open({ stateDir, clock, eventQueueMax: 100 });
  const execs: ExecRequest[] = [];
  const stop = new AbortController();
  await su.attach({
    journal,
    requestExec: (r) => {
      execs.push(r);
      stop.abort(new Error('exec'));
    },
  });
  /** A package file and its job. */
  const pkg = (name: string, body: string | Buffer, job: Partial<SubAgentJob> = {}): SubAgentJob => {
    const file = join(dir, name);
    writeFileSync(file, body);
    const sum = createHash('sha256').update(body).digest('hex');
    return {
      id: 'job-1',
      action: 'upgrade',
      name: 'BootAgent',
      url: pathToFileURL(file).href,
      checksum: `SHA256:${sum}`,
      ...job,
    };
  };
  const run = (job: SubAgentJob) => su.handleJob(job, new AbortController().signal, stop.signal);
  const events = () => journal.payload().events.map((e) => `${e.kind}:${(e.data as { step?: string }).step ?? ''}`);
  const untouched = () => {
    expect(existsSync(markerFile(stateDir))).toBe(false);
    expect(existsSync(join(stateDir, 'self-upgrade', 'new'))).toBe(false);
    expect(execs).toHaveLength(0);
  };
  return { dir, stateDir, target, su, pkg, run, execs, events, untouched };
}

/** A "build" that answers --version like boot does. */
const fakeBoot = (version: string, arch = machineArch()) =>
  `if (process.argv.includes('--version')) console.log('boot ${version} (node 24.21.0, ${arch})');\n`;

describe('the upgrade BootAgent job', () => {
  it('verifies, stages, writes the trial marker and execs the staged copy; the job waits for the next start', async () => {
    const t = await setup();
    const outcome = await t.run(t.pkg('b.cjs', fakeBoot('2.0.0'), { version: '2.0.0' }));
    expect(outcome.resumeLater).toBe(true);
    const m = readMarker(t.stateDir);
    expect(m.kind).toBe('ok');
    if (m.kind !== 'ok') return;
    expect(m.marker).toMatchObject({ step: 'trial', kind: 'binary', from: '1.0.0', to: '2.0.0', target: t.target });
    expect(m.marker.staged).toMatch(/self-upgrade\/new\/boot\.cjs$/);
    expect(t.execs).toHaveLength(1);
    expect(t.execs[0]!.cmd).toBe(process.execPath);
    expect(t.execs[0]!.argv.slice(-4)).toEqual([m.marker.staged, '-f', '-d', t.stateDir]);
    expect(t.events()).toEqual(['self_upgrade:fetch', 'self_upgrade:trial']);
  });

  it('refuses what is not a BootAgent, with a refused event, and changes nothing', async () => {
    const t = await setup();
    const o = await t.run(t.pkg('x.cjs', "console.log('hello');\n"));
    expect(o.errcode).toBe(ErrorCode.JOB_BAD_PACKAGE);
    expect(o.message).toMatch(/not a BootAgent: '--version' printed "hello"/);
    expect(t.events()).toContain('refused:');
    t.untouched();
  });

  it('refuses another version than the job names, another arch, and an rpm for a boot not from one', async () => {
    const t = await setup();
    const v = await t.run(t.pkg('v.cjs', fakeBoot('2.0.1'), { version: '2.0.0' }));
    expect(v.errcode).toBe(ErrorCode.JOB_BAD_PACKAGE);
    expect(v.message).toMatch(/is BootAgent 2\.0\.1, the job asked for 2\.0\.0/);
    const a = await t.run(t.pkg('a.cjs', fakeBoot('2.0.0', 'sparc64')));
    expect(a.errcode).toBe(ErrorCode.JOB_BAD_PACKAGE);
    expect(a.message).toMatch(/for sparc64, this host is/);
    const rpm = await t.run(t.pkg('r.rpm', Buffer.from([0xed, 0xab, 0xee, 0xdb, 0, 0, 0, 0])));
    expect(rpm.errcode).toBe(ErrorCode.JOB_BAD_PACKAGE);
    expect(rpm.message).toMatch(/not installed by rpm/);
    t.untouched();
  });

  it('a bad checksum or a missing url: the download code, nothing changed', async () => {
    const t = await setup();
    const job = t.pkg('c.cjs', fakeBoot('2.0.0'));
    const c = await t.run({ ...job, checksum: `SHA256:${'0'.repeat(64)}` });
    expect(c.errcode).toBe(ErrorCode.JOB_CHECKSUM_MISMATCH);
    const { url: _url, ...noUrl } = job;
    const u = await t.run(noUrl);
    expect(u.errcode).toBe(ErrorCode.JOB_INVALID);
    t.untouched();
  });
});
