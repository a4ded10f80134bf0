import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHostPolicy, silentLogger, type HostPolicy } from '@aspire/agent-core';
import { createPublicKey } from 'node:crypto';
import { ErrorCode, createSigner, generateSigningKeyPem, verifySigned, type SubAgentJob } from '@aspire/protocol';
import { ManualClock, waitUntil } from '@aspire/testing';
import { describe, expect, it } from 'vitest';
import type { SubAgentManager } from '../src/contracts.ts';
import { applyConfigJob } from '../src/jobs/config-job.ts';
import { JobRunner } from '../src/jobs/job-runner.ts';
import { JobJournal, TOMBSTONES_MAX } from '../src/state/job-journal.ts';
import { MetaStore, readMeta } from '../src/state/meta-store.ts';

async function setup(manager?: SubAgentManager, policy?: Readonly<HostPolicy>) {
  const dir = mkdtempSync(join(tmpdir(), 'boot-jobs-'));
  const { journal } = await JobJournal.open({ stateDir: dir, clock: new ManualClock(), eventQueueMax: 10 });
  const meta = new MetaStore(dir, {
    version: 1,
    agentsn: 'sn-1',
    servers: ['127.0.0.1:1'],
    pushedServers: [],
    trusted: true,
    registeredAt: 0,
    step: 600,
    stepFrom: 'config',
  });
  let stepChanges = 0;
  const runner = new JobRunner({
    logger: silentLogger(),
    journal,
    ...(manager ? { manager } : {}),
    config: (job) => applyConfigJob(job, meta, () => stepChanges++),
    ...(policy ? { policy } : {}),
  });
  const results = async () => {
    await waitUntil(() => runner.idle);
    return Object.fromEntries(journal.payload().jobs.map((j) => [j.id, j]));
  };
  return { dir, journal, meta, runner, results, stepChanges: () => stepChanges };
}

describe('JobRunner', () => {
  it('answers every kind of bad job instead of dropping it', async () => {
    const t = await setup();
    await t.runner.accept([
      { id: 'u1', action: 'reboot-the-world' },
      { id: 'i1' },
      { id: 'i2', action: 'install', name: '../etc' },
      { id: 's1', action: 'install', name: 'BasicAgent', url: 'file:///x.rpm' },
      { id: 'b1', action: 'upgrade', name: 'BootAgent', url: 'file:///boot.rpm' },
      { id: 'c1', action: 'config', step: 'fast' },
      { id: 'c2', action: 'config', svrlist: 'ftp://x:1' },
      { id: 'c3', action: 'config' },
      { id: 'c4', action: 'config', tags: 'novalue' },
      { action: 'config', step: 3 },
      'not an object',
    ]);
    const r = await t.results();
    expect(r.u1!.errcode).toBe(ErrorCode.JOB_UNSUPPORTED_ACTION);
    expect(r.u1!.message).toContain('reboot-the-world');
    expect(r.i1!.errcode).toBe(ErrorCode.JOB_INVALID);
    expect(r.i2!.errcode).toBe(ErrorCode.JOB_INVALID);
    expect(r.s1!.errcode).toBe(ErrorCode.JOB_UNSUPPORTED_ACTION);
    expect(r.s1!.message).toMatch(/no sub-agent manager/);
    expect(r.b1).toMatchObject({ errcode: ErrorCode.JOB_INVALID, message: expect.stringContaining('not a sub-agent') });
    expect(r.c1!.errcode).toBe(ErrorCode.JOB_INVALID);
    expect(r.c2!.errcode).toBe(ErrorCode.JOB_INVALID);
    expect(r.c3!.errcode).toBe(ErrorCode.JOB_INVALID);
    expect(r.c4).toMatchObject({ errcode: ErrorCode.JOB_INVALID, message: expect.stringContaining('not key=value') });
    expect(Object.keys(r).sort()).toEqual(['b1', 'c1', 'c2', 'c3', 'c4', 'i1', 'i2', 's1', 'u1']);
  });

  it('config job: svrlist becomes the pushed list, step and tags persisted, step change announced', async () => {
    const t = await setup();
    await t.runner.accept([
      {
        id: 'c',
        action: 'config',
        svrlist: '127.0.0.1:9001,127.0.0.1:9001,http://127.0.0.1:9002,',
        step: 7,
        tags: 'svc=ecs',
      },
    ]);
    const r = await t.results();
    expect(r.c).toMatchObject({ errcode: 0, message: expect.stringContaining('step=7') });
    const onDisk = readMeta(t.dir);
    expect(onDisk.kind === 'ok' && onDisk.meta).toMatchObject({
      servers: ['127.0.0.1:1'],
      pushedServers: ['127.0.0.1:9001', '127.0.0.1:9001', 'http://127.0.0.1:9002'],
      step: 7,
      stepFrom: 'server',
      tags: 'svc=ecs',
      tagsFrom: 'server',
    });
    expect(t.stepChanges()).toBe(1);
  });

  it('runs a job id at most once: repeats in one reply, re-delivery while pending, re-delivery after ack', async () => {
    let runs = 0;
    const manager: SubAgentManager = {
      start: async () => undefined,
      stop: async () => undefined,
      reports: () => [],
      handleJob: async (job: SubAgentJob) => {
        runs++;
        return { errcode: 0, message: `did ${job.action}` };
      },
    };
    const t = await setup(manager);
    const job = { id: 'j', action: 'restart', name: 'BasicAgent' };
    await t.runner.accept([job, job]);
    await t.runner.accept([job]);
    const r = await t.results();
    expect(r.j).toEqual({ id: 'j', errcode: 0, message: 'did restart' });
    await t.journal.acknowledge(t.journal.payload());
    await t.runner.accept([job]);
    const again = await t.results();
    expect(again.j).toEqual({ id: 'j', errcode: 0, message: 'did restart' });
    expect(runs).toBe(1);
  });

  it('replay: a flood of unsigned jobs does not evict a signed job id; a replay of a signed job the journal had to forget is refused', async () => {
    const pem = generateSigningKeyPem();
    const signer = createSigner(pem);
    const key = createPublicKey(pem);
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const dir = mkdtempSync(join(tmpdir(), 'boot-replay-'));
    const { journal } = await JobJournal.open({ stateDir: dir, clock, eventQueueMax: 10 });
    const runs: string[] = [];
    const manager: SubAgentManager = {
      start: async () => undefined,
      stop: async () => undefined,
      reports: () => [],
      handleJob: async (job: SubAgentJob) => {
        runs.push(job.id);
        return { errcode: 0, message: 'installed' };
      },
    };
    const runner = new JobRunner({
      logger: silentLogger(),
      journal,
      manager,
      config: async () => ({ errcode: 0, message: 'ok' }),
      verify: (job) => verifySigned('job', job, { keys: [key], agentsn: 'sn-1', nowMs: clock.now() }),
    });
    // What a forged 2xx reply does: acknowledge everything pending.
    const ackAll = async () => {
      await waitUntil(() => runner.idle);
      await journal.acknowledge(journal.payload(5000, 10 * 1024 * 1024));
    };
    const install = signer.sign(
      'job',
      { id: 'real', action: 'install', name: 'BasicAgent', url: 'http://127.0.0.1:1/b.rpm' },
      'sn-1',
      clock.now() + 600_000,
    );
    await runner.accept([install]);
    await ackAll();
    expect(runs).toEqual(['real']);

    // A MITM injects more unsigned jobs than there are tombstones, and acknowledges their results.
    const forged = Array.from({ length: TOMBSTONES_MAX + 100 }, (_, i) => ({
      id: `forged-${i}`,
      action: 'install',
      name: 'BasicAgent',
      url: 'http://127.0.0.1:1/evil.rpm',
    }));
    await runner.accept(forged);
    const refusedResults = journal.payload(5000, 10 * 1024 * 1024).jobs;
    expect(refusedResults).toHaveLength(forged.length);
    expect(refusedResults.every((r) => r.errcode === ErrorCode.SIGNATURE_MISSING)).toBe(true);
    await ackAll();
    // The real id is still remembered: the replay is answered from the record, not run.
    await runner.accept([install]);
    await waitUntil(() => runner.idle);
    expect(runs).toEqual(['real']);
    expect(journal.payload().jobs).toEqual([{ id: 'real', errcode: 0, message: 'installed' }]);
    await ackAll();

    // Enough real signed jobs (refused by no manager: unsupported action, answered at once) push it out...
    await runner.accept(
      Array.from({ length: TOMBSTONES_MAX }, (_, i) =>
        signer.sign('job', { id: `later-${i}`, action: 'frobnicate' }, 'sn-1', clock.now() + 900_000),
      ),
    );
    await ackAll();
    expect(journal.lookup('real').kind).toBe('new');
    // ...and the replay, still within its validity, is refused as a possible replay and not run.
    await runner.accept([install]);
    await waitUntil(() => runner.idle);
    expect(runs).toEqual(['real']);
    expect(journal.payload().jobs).toEqual([
      { id: 'real', errcode: ErrorCode.SIGNATURE_REPLAYED, message: expect.stringContaining('replay') },
    ]);
    // A fresh job expiring after the floor still runs.
    await ackAll();
    await runner.accept([
      signer.sign(
        'job',
        { id: 'fresh', action: 'install', name: 'BasicAgent', url: 'http://127.0.0.1:1/b.rpm' },
        'sn-1',
        clock.now() + 1_000_000,
      ),
    ]);
    await waitUntil(() => runner.idle && journal.payload().jobs.length === 1);
    expect(runs).toEqual(['real', 'fresh']);
  });

  it('upgrade naming BootAgent goes to the self-upgrade (host policy first); other actions naming it are invalid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'boot-jobs-self-'));
    const { journal } = await JobJournal.open({ stateDir: dir, clock: new ManualClock(), eventQueueMax: 10 });
    const seen: string[] = [];
    const runner = new JobRunner({
      logger: silentLogger(),
      journal,
      config: async () => ({ errcode: 0, message: 'config' }),
      selfUpgrade: {
        handleJob: async (job) => {
          seen.push(job.id);
          return { errcode: 0, message: 'self-upgraded' };
        },
      },
      policy: parseHostPolicy(
        JSON.stringify({ actions: ['upgrade'], sources: ['https://repo.example/'] }),
        '/etc/bootagent/policy.json',
      ),
    });
    await runner.accept([
      { id: 'u', action: 'upgrade', name: 'bootagent', url: 'https://repo.example/boot' },
      { id: 'src', action: 'upgrade', name: 'BootAgent', url: 'https://elsewhere.example/boot' },
      { id: 'st', action: 'stop', name: 'BootAgent' },
    ]);
    await waitUntil(() => runner.idle);
    const r = Object.fromEntries(journal.payload().jobs.map((j) => [j.id, j]));
    expect(seen).toEqual(['u']);
    expect(r.u).toMatchObject({ errcode: 0, message: 'self-upgraded' });
    expect(r.src).toMatchObject({ errcode: ErrorCode.POLICY_REFUSED });
    expect(r.st).toMatchObject({ errcode: ErrorCode.JOB_INVALID, message: expect.stringContaining('only "upgrade"') });
  });

  it('a manager that throws still yields a result', async () => {
    const manager: SubAgentManager = {
      start: async () => undefined,
      stop: async () => undefined,
      reports: () => [],
      handleJob: () => Promise.reject(new Error('kaput')),
    };
    const t = await setup(manager);
    await t.runner.accept([{ id: 'x', action: 'stop', name: 'BasicAgent' }]);
    const r = await t.results();
    expect(r.x).toMatchObject({ errcode: ErrorCode.EXEC_ERROR, message: expect.stringContaining('kaput') });
  });

  it('host policy: a forbidden action or source is answered POLICY_REFUSED with a refused event, and never reaches the manager', async () => {
    const ran: string[] = [];
    const manager: SubAgentManager = {
      start: async () => undefined,
      stop: async () => undefined,
      reports: () => [],
      handleJob: async (job: SubAgentJob) => {
        ran.push(job.id);
        return { errcode: 0, message: 'done' };
      },
    };
    const policy = parseHostPolicy(
      JSON.stringify({ actions: ['install', 'restart'], sources: ['https://repo.example/'] }),
      '/etc/bootagent/policy.json',
    );
    const t = await setup(manager, policy);
    await t.runner.accept([
      { id: 'a', action: 'uninstall', name: 'BasicAgent' },
      { id: 'c', action: 'config', step: 5 },
      { id: 's', action: 'install', name: 'BasicAgent', url: 'command://rpm -i /tmp/x.rpm' },
      { id: 'ok1', action: 'install', name: 'BasicAgent', url: 'https://repo.example/BasicAgent.rpm' },
      { id: 'ok2', action: 'restart', name: 'BasicAgent' },
    ]);
    const r = await t.results();
    expect(r.a).toMatchObject({
      errcode: ErrorCode.POLICY_REFUSED,
      message: expect.stringContaining('action "uninstall" is not allowed'),
    });
    expect(r.c).toMatchObject({
      errcode: ErrorCode.POLICY_REFUSED,
      message: expect.stringContaining('action "config"'),
    });
    expect(r.s).toMatchObject({
      errcode: ErrorCode.POLICY_REFUSED,
      message: expect.stringContaining('source "command://'),
    });
    expect(r.ok1).toMatchObject({ errcode: 0 });
    expect(r.ok2).toMatchObject({ errcode: 0 });
    expect(ran.sort()).toEqual(['ok1', 'ok2']);
    expect(t.meta.meta.step).toBe(600);
    const refused = t.journal.payload().events.filter((e) => e.kind === 'refused');
    expect(refused.map((e) => (e.data as { jobId: string }).jobId).sort()).toEqual(['a', 'c', 's']);
  });
});
