import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { describe, expect, it } from 'vitest';
import { JobJournal, JOURNAL_FILE, TOMBSTONES_MAX } from '../src/state/job-journal.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'boot-journal-'));
const open = (stateDir: string, eventQueueMax = 100) =>
  JobJournal.open({ stateDir, clock: new ManualClock(Date.UTC(2026, 0, 1)), eventQueueMax });

describe('JobJournal', () => {
  it('writes "started" to disk before begin() resolves', async () => {
    const dir = tmp();
    const { journal } = await open(dir);
    await journal.begin('job-1', 'config');
    const onDisk = JSON.parse(readFileSync(join(dir, JOURNAL_FILE), 'utf8'));
    expect(onDisk.jobs).toEqual([expect.objectContaining({ id: 'job-1', state: 'started' })]);
  });

  it('a job found started at load (kill -9 mid-job) is reported JOB_INTERRUPTED, never run again', async () => {
    const dir = tmp();
    const first = (await open(dir)).journal;
    await first.begin('job-1', 'install');
    // A new process on the same state dir:
    const { journal } = await open(dir);
    expect(journal.interrupted).toEqual(['job-1']);
    expect(journal.lookup('job-1').kind).toBe('pending');
    expect(journal.payload().jobs).toEqual([
      { id: 'job-1', errcode: ErrorCode.JOB_INTERRUPTED, message: expect.stringContaining('not run again') },
    ]);
  });

  it('a job the manager resumes (upgrade marker) stays started at load until finished; one not taken up is interrupted', async () => {
    const dir = tmp();
    const first = (await open(dir)).journal;
    await first.begin('up-1', 'upgrade');
    await first.begin('up-2', 'upgrade');
    const { journal } = await JobJournal.open({
      stateDir: dir,
      clock: new ManualClock(Date.UTC(2026, 0, 1)),
      eventQueueMax: 100,
      resumable: new Set(['up-1', 'up-2']),
    });
    expect(journal.interrupted).toEqual([]);
    expect(journal.payload().jobs).toEqual([]); // no result yet: nothing contradicting the host is sent
    expect(journal.lookup('up-1').kind).toBe('pending'); // a re-delivery is still not run again
    await journal.interrupt(['up-2']);
    await journal.finish('up-1', { errcode: 0, message: 'A upgraded 1 -> 2' });
    expect(journal.payload().jobs).toEqual([
      { id: 'up-1', errcode: 0, message: 'A upgraded 1 -> 2' },
      { id: 'up-2', errcode: ErrorCode.JOB_INTERRUPTED, message: expect.stringContaining('not run again') },
    ]);
  });

  it('re-sends results until a push carrying them is acknowledged, then remembers the id', async () => {
    const dir = tmp();
    const { journal } = await open(dir);
    await journal.begin('a', 'config');
    await journal.finish('a', { errcode: 0, message: 'success' });
    const p1 = journal.payload();
    expect(p1.jobs).toHaveLength(1);
    // Push failed: nothing acknowledged, the next push carries it again.
    expect(journal.payload().jobs).toEqual(p1.jobs);
    // A result finished after the payload was taken is not acknowledged by it.
    await journal.begin('b', 'config');
    await journal.finish('b', { errcode: 0, message: 'success' });
    await journal.acknowledge(p1);
    expect(journal.payload().jobs.map((j) => j.id)).toEqual(['b']);
    expect(journal.lookup('a')).toEqual({ kind: 'acked', result: { id: 'a', errcode: 0, message: 'success' } });
    // ...and across a restart.
    const reopened = (await open(dir)).journal;
    expect(reopened.lookup('a').kind).toBe('acked');
    expect(reopened.payload().jobs.map((j) => j.id)).toEqual(['b']);
  });

  it('results of jobs refused by the signature check leave no tombstone: a flood of them does not evict a real id', async () => {
    const dir = tmp();
    const { journal } = await open(dir);
    const expires = Date.UTC(2026, 0, 1) + 600_000;
    await journal.begin('real', 'install', { expires });
    await journal.finish('real', { errcode: 0, message: 'installed' });
    await journal.acknowledge(journal.payload());
    for (let round = 0; round < 3; round++) {
      const writes = Array.from({ length: 500 }, (_, i) =>
        journal.answer(
          `forged-${round}-${i}`,
          'install',
          { errcode: ErrorCode.SIGNATURE_MISSING, message: 'unsigned' },
          { unverified: true },
        ),
      );
      await Promise.all(writes);
      await journal.acknowledge(journal.payload(5000, 10 * 1024 * 1024));
    }
    await journal.acknowledge(journal.payload(5000, 10 * 1024 * 1024));
    expect(journal.payload().jobs).toEqual([]);
    expect(journal.sizes).toMatchObject({ tombstones: 1, replayFloor: 0 });
    expect(journal.lookup('real')).toEqual({
      kind: 'acked',
      result: { id: 'real', errcode: 0, message: 'installed', expires },
    });
    expect(journal.lookup('forged-0-0').kind).toBe('new');
    expect(journal.isBelowFloor(expires)).toBe(false);
  });

  it('full tombstones: expired ones go first; evicting a still-valid one raises the replay floor to its expiry, kept across a restart', async () => {
    const dir = tmp();
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const { journal } = await JobJournal.open({ stateDir: dir, clock, eventQueueMax: 10 });
    const now = clock.now();
    // The first tombstone expires early; the rest later, each one ms after the one before.
    await journal.answer('early', 'x', { errcode: 0, message: '' }, { expires: now + 1000 });
    await Promise.all(
      Array.from({ length: TOMBSTONES_MAX - 1 }, (_, i) =>
        journal.answer(`t${i}`, 'x', { errcode: 0, message: '' }, { expires: now + 600_000 + i }),
      ),
    );
    await journal.acknowledge(journal.payload(5000, 10 * 1024 * 1024));
    expect(journal.sizes.tombstones).toBe(TOMBSTONES_MAX);
    await clock.advance(2000);
    await journal.answer('n1', 'x', { errcode: 0, message: '' }, { expires: now + 700_000 });
    await journal.acknowledge(journal.payload());
    // The expired one made room: no floor.
    expect(journal.lookup('early').kind).toBe('new');
    expect(journal.lookup('t0').kind).toBe('acked');
    expect(journal.sizes.replayFloor).toBe(0);
    await journal.answer('n2', 'x', { errcode: 0, message: '' }, { expires: now + 700_001 });
    await journal.acknowledge(journal.payload());
    // t0 was still valid: forgotten, and the floor now refuses anything expiring no later than it.
    expect(journal.lookup('t0').kind).toBe('new');
    expect(journal.sizes.replayFloor).toBe(now + 600_000);
    expect(journal.isBelowFloor(now + 600_000)).toBe(true);
    expect(journal.isBelowFloor(now + 600_001)).toBe(false);
    const reopened = (await JobJournal.open({ stateDir: dir, clock, eventQueueMax: 10 })).journal;
    expect(reopened.isBelowFloor(now + 600_000)).toBe(true);
    expect(reopened.lookup('t1').kind).toBe('acked');
  });

  it('events: monotonic localid persisted across restarts, bounded queue drops the oldest and counts them', async () => {
    const dir = tmp();
    const { journal } = await open(dir, 3);
    for (let i = 1; i <= 5; i++) journal.emit('exit', `exit ${i}`, { agent: 'BasicAgent' });
    await journal.flush();
    const p = journal.payload();
    expect(p.events.map((e) => e.message)).toEqual(['exit 3', 'exit 4', 'exit 5']);
    expect(p.events.map((e) => e.localid)).toEqual([3, 4, 5]);
    expect(p.eventsDropped).toBe(2);
    expect(p.events[0]!.occurred).toBe(Date.UTC(2026, 0, 1) / 1000);
    await journal.acknowledge(p);
    expect(journal.payload()).toEqual({ jobs: [], events: [], eventsDropped: 0 });
    const reopened = (await open(dir, 3)).journal;
    reopened.emit('strike', 'again');
    expect(reopened.payload().events[0]!.localid).toBe(6);
  });

  it('an acknowledgement only removes the events it carried', async () => {
    const dir = tmp();
    const { journal } = await open(dir, 10);
    journal.emit('exit', 'one');
    const p = journal.payload();
    journal.emit('exit', 'two');
    await journal.acknowledge(p);
    expect(journal.payload().events.map((e) => e.message)).toEqual(['two']);
  });

  it('a corrupt journal is reported and replaced, not a crash', async () => {
    const dir = tmp();
    writeFileSync(join(dir, JOURNAL_FILE), '{"jobs": [');
    const r = await open(dir);
    expect(r.corrupt).toMatch(/JSON/);
    expect(r.journal.payload().jobs).toEqual([]);
  });

  it('a backlog larger than one push goes out over several, each under the byte cap; big event data is replaced by a note', async () => {
    const dir = tmp();
    const { journal } = await open(dir, 100);
    for (let i = 0; i < 40; i++) {
      await journal.begin(`job-${i}`, 'install');
      await journal.finish(`job-${i}`, { errcode: 0, message: 'x'.repeat(4000) });
    }
    journal.emit('exit', 'big', { data: { blob: 'y'.repeat(10_000) } });
    expect(journal.payload().events[0]!.data).toEqual({ truncated: true, bytes: expect.any(Number) });
    const seen = new Set<string>();
    for (let round = 0; round < 10 && journal.payload().jobs.length > 0; round++) {
      const p = journal.payload(1000, 64 * 1024);
      expect(JSON.stringify(p).length).toBeLessThan(64 * 1024 + 1024);
      expect(p.jobs.length).toBeGreaterThan(0);
      for (const j of p.jobs) seen.add(j.id);
      await journal.acknowledge(p);
    }
    expect(seen.size).toBe(40);
    // Tombstones keep a short message only.
    const a = journal.lookup('job-0');
    expect(a.kind === 'acked' && a.result.message.length).toBe(512);
  });

  it('an idle acknowledgement writes nothing', async () => {
    const dir = tmp();
    const { journal } = await open(dir);
    const file = join(dir, JOURNAL_FILE);
    const before = readFileSync(file, 'utf8');
    writeFileSync(file, before.replace('"version": 1', '"version": 1 '));
    await journal.acknowledge(journal.payload());
    expect(readFileSync(file, 'utf8')).toContain('"version": 1 ');
  });
});
