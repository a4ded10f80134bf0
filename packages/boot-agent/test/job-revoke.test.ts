import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { silentLogger } from '@aspire/agent-core';
import { ErrorCode, createSigner, generateSigningKeyPem, verifySigned, type SubAgentJob } from '@aspire/protocol';
import { ManualClock, waitUntil } from '@aspire/testing';
import { describe, expect, it } from 'vitest';
import type { SubAgentManager } from '../src/contracts.ts';
import { JobRunner } from '../src/jobs/job-runner.ts';
import { JobJournal } from '../src/state/job-journal.ts';

const AGENTSN = 'sn-1';
const pem = generateSigningKeyPem();
const signer = createSigner(pem);
const key = createPublicKey(pem);
const clock = new ManualClock();
const revokeOf = (id: string, target = AGENTSN) => signer.sign('revoke', { id }, target, clock.now() + 60_000);

/** A manager whose jobs run until their signal aborts (like a download in flight), or end at once. */
function blockingManager() {
  const started: string[] = [];
  const signals = new Map<string, { signal: AbortSignal; stop: AbortSignal | undefined }>();
  const manager: SubAgentManager = {
    start: async () => undefined,
    stop: async () => undefined,
    reports: () => [],
    handleJob: (job: SubAgentJob, signal, stop) => {
      started.push(job.id);
      signals.set(job.id, { signal, stop });
      if (job.name === 'Quick') return Promise.resolve({ errcode: 0, message: 'done' });
      return new Promise((resolve) => {
        signal.addEventListener(
          'abort',
          () => resolve({ errcode: ErrorCode.JOB_INTERRUPTED, message: 'download aborted' }),
          { once: true },
        );
      });
    },
  };
  return { manager, started, signals };
}

async function setup(manager: SubAgentManager) {
  const dir = mkdtempSync(join(tmpdir(), 'boot-revoke-'));
  const { journal } = await JobJournal.open({ stateDir: dir, clock, eventQueueMax: 10 });
  const runner = new JobRunner({
    logger: silentLogger(),
    journal,
    manager,
    config: async () => ({ errcode: 0, message: 'ok' }),
    verifyRevoke: (n) => verifySigned('revoke', n, { keys: [key], agentsn: AGENTSN, nowMs: clock.now() }),
  });
  const results = () => Object.fromEntries(journal.payload().jobs.map((j) => [j.id, j]));
  return { journal, runner, results };
}

describe('JobRunner revoke', () => {
  it('aborts the running job (its signal, not the stop signal), drops a queued one, records an unseen id; results JOB_REVOKED with a revoked event', async () => {
    const m = blockingManager();
    const t = await setup(m.manager);
    await t.runner.accept([
      { id: 'run', action: 'install', name: 'BasicAgent', url: 'http://127.0.0.1:1/x.tar.gz' },
      { id: 'queued', action: 'install', name: 'Other', url: 'http://127.0.0.1:1/y.tar.gz' },
    ]);
    await waitUntil(() => m.started.includes('run'));
    await t.runner.revoke([revokeOf('run'), revokeOf('queued'), revokeOf('never-got')]);
    await waitUntil(() => t.runner.idle);
    const r = t.results();
    expect(r.run).toMatchObject({
      errcode: ErrorCode.JOB_REVOKED,
      message: expect.stringContaining('download aborted'),
    });
    expect(r.queued).toMatchObject({
      errcode: ErrorCode.JOB_REVOKED,
      message: expect.stringContaining('before it started'),
    });
    expect(r['never-got']).toMatchObject({ errcode: ErrorCode.JOB_REVOKED });
    expect(m.started).toEqual(['run']);
    expect(m.signals.get('run')!.signal.aborted).toBe(true);
    expect(m.signals.get('run')!.stop!.aborted).toBe(false);
    expect(t.journal.payload().events.some((e) => e.kind === 'revoked' && e.data?.jobId === 'run')).toBe(true);
    // A late delivery of the revoked ids runs nothing.
    await t.runner.accept([
      { id: 'never-got', action: 'install', name: 'BasicAgent', url: 'http://127.0.0.1:1/x.tar.gz' },
    ]);
    await waitUntil(() => t.runner.idle);
    expect(m.started).toEqual(['run']);
  });

  it('refuses revokes not signed for this host, and leaves a finished job its result', async () => {
    const m = blockingManager();
    const t = await setup(m.manager);
    await t.runner.accept([
      { id: 'quick', action: 'restart', name: 'Quick' },
      { id: 'slow', action: 'install', name: 'BasicAgent', url: 'http://127.0.0.1:1/x.tar.gz' },
    ]);
    await waitUntil(() => m.started.includes('slow'));
    const forged = { ...revokeOf('slow'), sig: revokeOf('other').sig };
    const asJob = signer.sign('job', { id: 'slow' }, AGENTSN, clock.now() + 60_000);
    await t.runner.revoke([revokeOf('slow', 'sn-2'), forged, asJob, { id: 'slow' }, 'junk', revokeOf('quick')]);
    expect(m.signals.get('slow')!.signal.aborted).toBe(false);
    expect(t.results().quick).toMatchObject({ errcode: 0, message: 'done' });
    await t.runner.revoke([revokeOf('slow')]);
    await waitUntil(() => t.runner.idle);
    expect(t.results().slow).toMatchObject({ errcode: ErrorCode.JOB_REVOKED });
  });
});
