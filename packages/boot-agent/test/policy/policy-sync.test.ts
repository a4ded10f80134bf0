import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MANAGED_END, silentLogger, splitCrontab } from '@aspire/agent-core';
import {
  type AgentReport,
  createSigner,
  ErrorCode,
  generateSigningKeyPem,
  type SubAgentJob,
  verifySigned,
} from '@aspire/protocol';
import { ManualClock, waitUntil } from '@aspire/testing';
import { describe, expect, it } from 'vitest';
import type { JobOutcome, SubAgentManager } from '../../src/contracts.ts';
import { JobRunner } from '../../src/jobs/job-runner.ts';
import { acceptLocalJobs } from '../../src/jobs/local-jobs.ts';
import type { Transport } from '../../src/net/http-transport.ts';
import type { Outcome } from '../../src/net/outcome.ts';
import { loadPolicyState } from '../../src/policy/policy-state.ts';
import { PolicySync } from '../../src/policy/policy-sync.ts';
import { JobJournal } from '../../src/state/job-journal.ts';

const SN = 'sn-policy';
const HOST_LINES = '# host lines\nMAILTO=ops\n0 0 * * * * root /usr/bin/host-job\n';
const sha = (c: string) => c.repeat(64);

/** A manager that only keeps versions: enough to see which changes ran, in which order. */
function fakeManager() {
  const agents = new Map<string, AgentReport>();
  const calls: string[] = [];
  const failing = new Set<string>();
  let gate: Promise<void> = Promise.resolve();
  const m: SubAgentManager & {
    agents: typeof agents;
    calls: string[];
    failing: Set<string>;
    hold(p: Promise<void>): void;
  } = {
    agents,
    calls,
    failing,
    hold(p) {
      gate = p;
    },
    async start() {},
    async stop() {},
    async handleJob(job: SubAgentJob): Promise<JobOutcome> {
      calls.push(`${job.action} ${job.name}${job.version ? ` ${job.version}` : ''}`);
      await gate;
      if (failing.has(job.name))
        return { errcode: ErrorCode.JOB_DOWNLOAD_FAILED, message: 'download failed: ECONNREFUSED' };
      if (job.action === 'uninstall') agents.delete(job.name);
      else if (job.action === 'install' || job.action === 'upgrade')
        agents.set(job.name, { name: job.name, version: job.version ?? '?', status: 'running', uptime: 0 });
      return { errcode: 0, message: 'ok' };
    },
    reports: () => [...agents.values()],
  };
  return m;
}

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'boot-policy-'));
  const crontab = join(dir, 'crontab');
  writeFileSync(crontab, HOST_LINES, { mode: 0o640 });
  const clock = new ManualClock();
  const { journal } = await JobJournal.open({ stateDir: dir, clock, eventQueueMax: 100 });
  const manager = fakeManager();
  const logger = silentLogger();
  const runner = new JobRunner({ logger, journal, manager, config: async () => ({ errcode: 0, message: '' }) });
  const signer = createSigner(generateSigningKeyPem());
  const key = createPublicKey({ key: Buffer.from(signer.publicKey, 'base64'), format: 'der', type: 'spki' });
  let answer: (() => Outcome<Record<string, unknown>>) | undefined;
  const pulls: string[] = [];
  const transport: Transport = {
    post: async () => ({ kind: 'retry', reason: 'unused' }),
    get: async <T>(_server: string, path: string) => {
      pulls.push(path);
      return (answer?.() ?? { kind: 'retry', reason: 'no server' }) as Outcome<T>;
    },
    close: async () => {},
  };
  const mk = () =>
    new PolicySync({
      clock,
      logger,
      stateDir: dir,
      transport,
      journal,
      manager,
      agentsn: () => SN,
      credential: () => 'cred',
      verify: (doc) => verifySigned('policy', doc, { keys: [key], agentsn: SN, nowMs: clock.now() }),
      run: (items) => acceptLocalJobs({ runner, journal, manager, logger }, items),
      fullCheckSec: 3600,
      crontab: { path: crontab, agent: 'BasicAgent' },
    });
  const sync = mk();
  const serve = (doc: Record<string, unknown>, opts: { badKey?: boolean } = {}) => {
    const by = opts.badKey ? createSigner(generateSigningKeyPem()) : signer;
    // Signed at each answer as the server does: the whole body, envelope included, valid ten minutes.
    answer = () => ({
      kind: 'ok',
      status: 200,
      value: by.sign('policy', { status: 0, message: 'success', ...doc }, SN, clock.now() + 600_000),
    });
  };
  const reply = async (hash: string) => {
    sync.afterReply('http://127.0.0.1:1', { status: 0, policy: { hash } });
    await sync.settled();
  };
  const events = (kind: string) => journal.payload().events.filter((e) => e.kind === kind);
  return {
    dir,
    crontab,
    clock,
    journal,
    manager,
    sync,
    serve,
    reply,
    events,
    pulls,
    mk,
    setAnswer: (f: typeof answer) => (answer = f),
  };
}

const doc = (hash: string, subagents: unknown[], periodic: unknown[]) => ({ hash, subagents, periodic, origin: {} });
const basic = (version: string) => ({
  name: 'BasicAgent',
  version,
  run: { url: 'http://127.0.0.1:1/BasicAgent.tar.gz', checksum: `SHA256:${sha('a')}` },
  limits: {},
});
const t1 = { name: 'rotate', user: 'root', schedule: '0 */5 * * * *', command: '/usr/bin/rotate' };
const t2 = { name: 'report', user: 'root', schedule: '0 0 9 * * *', command: 'echo report' };

describe('PolicySync', () => {
  it('a new hash: pulls, installs through the journal, writes the managed section, reports policy_applied', async () => {
    const t = await setup();
    t.serve(doc(sha('1'), [basic('1.0')], [t1, t2]));
    await t.reply(sha('1'));
    expect(t.pulls).toEqual([`/api/v1/agent/policy?agentsn=${SN}`]);
    expect(t.manager.calls).toEqual(['install BasicAgent 1.0']);
    const text = readFileSync(t.crontab, 'utf8');
    expect(text.startsWith(HOST_LINES)).toBe(true);
    expect(splitCrontab(text).section).toEqual([
      '# task: rotate',
      '0 */5 * * * * root /usr/bin/rotate',
      '# task: report',
      '0 0 9 * * * root echo report',
    ]);
    const applied = t.events('policy_applied');
    expect(applied).toHaveLength(1);
    expect(applied[0]!.data?.hash).toBe(sha('1'));
    // Journaled like a job: a `policy-` id finished OK, so it is never run again.
    const jobs = t.journal.payload().jobs;
    expect(jobs.map((j) => [j.id.startsWith(`policy-${sha('1').slice(0, 16)}-1-`), j.errcode])).toEqual([[true, 0]]);
    const st = loadPolicyState(t.dir).state;
    expect(st.appliedHash).toBe(sha('1'));
    expect(st.installed).toEqual(['BasicAgent']);
  });

  it('same hash: no pull; a hand edit of the section is put back at once and reported as drift', async () => {
    const t = await setup();
    t.serve(doc(sha('1'), [basic('1.0')], [t1]));
    await t.reply(sha('1'));
    const good = readFileSync(t.crontab, 'utf8');
    writeFileSync(
      t.crontab,
      good.replace('/usr/bin/rotate', '/bin/true').replace(MANAGED_END, `0 * * * * * root /x\n${MANAGED_END}`),
    );
    await t.reply(sha('1'));
    expect(t.pulls).toHaveLength(1);
    expect(readFileSync(t.crontab, 'utf8')).toBe(good);
    const drift = t.events('policy_drift');
    expect(drift).toHaveLength(1);
    expect(drift[0]!.data?.repaired).toEqual([
      {
        kind: 'periodic',
        name: 'rotate',
        was: '0 */5 * * * * root /bin/true',
        now: '0 */5 * * * * root /usr/bin/rotate',
      },
      { kind: 'periodic', name: '?1', was: '0 * * * * * root /x', now: null },
    ]);
  });

  it('the full check after fullCheckSec repairs a sub-agent removed by hand (drift), and a matching host reports nothing', async () => {
    const t = await setup();
    t.serve(doc(sha('1'), [basic('1.0')], []));
    await t.reply(sha('1'));
    await t.clock.advance(3600_000);
    await t.reply(sha('1'));
    expect(t.pulls).toHaveLength(2);
    expect(t.events('policy_drift')).toHaveLength(0);
    t.manager.agents.delete('BasicAgent');
    await t.clock.advance(3600_000);
    await t.reply(sha('1'));
    expect(t.manager.calls).toEqual(['install BasicAgent 1.0', 'install BasicAgent 1.0']);
    expect(t.events('policy_drift')[0]!.data?.repaired).toEqual([
      { kind: 'subagent', name: 'BasicAgent', was: null, now: '1.0' },
    ]);
  });

  it('a policy without the entries removes what it installed (not what jobs installed) and the section, keeping host lines', async () => {
    const t = await setup();
    t.manager.agents.set('JobAgent', { name: 'JobAgent', version: '9', status: 'running', uptime: 1 });
    t.serve(doc(sha('1'), [basic('1.0')], [t1, t2]));
    await t.reply(sha('1'));
    t.serve(doc(sha('2'), [], []));
    await t.reply(sha('2'));
    expect(t.manager.calls).toEqual(['install BasicAgent 1.0', 'uninstall BasicAgent']);
    expect([...t.manager.agents.keys()]).toEqual(['JobAgent']);
    expect(readFileSync(t.crontab, 'utf8')).toBe(HOST_LINES);
    expect(loadPolicyState(t.dir).state.installed).toEqual([]);
    expect(t.events('policy_applied').map((e) => e.data?.hash)).toEqual([sha('1'), sha('2')]);
  });

  it('a server gone mid-pull changes nothing and is tried again on the next reply', async () => {
    const t = await setup();
    t.setAnswer(() => ({ kind: 'retry', reason: 'ECONNRESET server closed the connection' }));
    await t.reply(sha('1'));
    expect(t.manager.calls).toEqual([]);
    expect(readFileSync(t.crontab, 'utf8')).toBe(HOST_LINES);
    expect(t.journal.payload().events.filter((e) => e.kind.startsWith('policy_'))).toEqual([]);
    t.serve(doc(sha('1'), [basic('1.0')], []));
    await t.reply(sha('1'));
    expect(t.manager.calls).toEqual(['install BasicAgent 1.0']);
  });

  it('a document not signed by the pinned key is refused with one policy_failed event; nothing runs', async () => {
    const t = await setup();
    t.serve(doc(sha('1'), [basic('1.0')], [t1]), { badKey: true });
    await t.reply(sha('1'));
    await t.reply(sha('1'));
    expect(t.manager.calls).toEqual([]);
    expect(readFileSync(t.crontab, 'utf8')).toBe(HOST_LINES);
    const failed = t.events('policy_failed');
    expect(failed).toHaveLength(1);
    expect(String(failed[0]!.data?.error)).toMatch(/signature/);
    expect(t.pulls).toHaveLength(1); // the same hash waits for its retry time
  });

  it('a periodic line that would break out of its line is refused whole', async () => {
    const t = await setup();
    t.serve(doc(sha('1'), [], [{ ...t1, command: '/bin/true\n* * * * * * root /bin/evil' }]));
    await t.reply(sha('1'));
    expect(readFileSync(t.crontab, 'utf8')).toBe(HOST_LINES);
    expect(String(t.events('policy_failed')[0]!.data?.error)).toMatch(/one line/);
  });

  it('a policy change waits for the job running now (one queue), and its state survives a restart', async () => {
    const t = await setup();
    let release: () => void = () => {};
    t.manager.hold(
      new Promise<void>((r) => {
        release = r;
      }),
    );
    t.serve(doc(sha('1'), [basic('1.0')], []));
    t.sync.afterReply('http://127.0.0.1:1', { policy: { hash: sha('1') } });
    // A second reply while the pass runs starts nothing.
    t.sync.afterReply('http://127.0.0.1:1', { policy: { hash: sha('1') } });
    // The install is held in the manager (a job in progress): nothing else starts meanwhile.
    await waitUntil(() => t.manager.calls.length > 0, { what: 'the install started' });
    t.sync.afterReply('http://127.0.0.1:1', { policy: { hash: sha('1') } });
    expect(t.manager.calls).toEqual(['install BasicAgent 1.0']);
    release();
    await t.sync.settled();
    const again = t.mk();
    expect(again.applied.appliedHash).toBe(sha('1'));
    expect(again.applied.installed).toEqual(['BasicAgent']);
    expect(ErrorCode.OK).toBe(0);
  });

  it("a failed install: policy_failed naming it, not recorded as the policy's, the section written, tried again later", async () => {
    const t = await setup();
    t.manager.failing.add('BasicAgent');
    t.serve(doc(sha('1'), [basic('1.0')], [t1]));
    await t.reply(sha('1'));
    const failed = t.events('policy_failed');
    expect(failed).toHaveLength(1);
    expect(String(failed[0]!.data?.error)).toMatch(/install BasicAgent: download failed/);
    const st = loadPolicyState(t.dir).state;
    expect(st.appliedHash).toBeUndefined();
    expect(st.installed).toEqual([]);
    expect(st.periodic.map((p) => p.name)).toEqual(['rotate']);
    expect(splitCrontab(readFileSync(t.crontab, 'utf8')).section).toHaveLength(2);
    // Not again on the next reply (the retry time has not come), then again after it.
    await t.reply(sha('1'));
    expect(t.manager.calls).toEqual(['install BasicAgent 1.0']);
    t.manager.failing.clear();
    await t.clock.advance(3600_000);
    await t.reply(sha('1'));
    expect(t.manager.calls).toEqual(['install BasicAgent 1.0', 'install BasicAgent 1.0']);
    expect(loadPolicyState(t.dir).state).toMatchObject({ appliedHash: sha('1'), installed: ['BasicAgent'] });
    expect(t.events('policy_applied')).toHaveLength(1);
  });
});
