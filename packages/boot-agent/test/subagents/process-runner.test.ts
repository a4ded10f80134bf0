// The process runner's held start with REAL processes and a REAL cgroup v1 group (root here):
// the program runs only after its pid is in every group it must join.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitUntil } from '@aspire/testing';
import { createProcessRunner } from '../../src/subagents/process-runner.ts';

const work = mkdtempSync(join(tmpdir(), 'aspire-runner-'));
const group = join('/sys/fs/cgroup/memory', `aspire-runner-test-${process.pid}-${randomBytes(3).toString('hex')}`);
const env = { PATH: '/usr/bin:/bin' };

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  if (existsSync(group))
    await waitUntil(
      () => {
        try {
          rmdirSync(group);
        } catch {
          /* tasks left */
        }
        return !existsSync(group);
      },
      { timeoutMs: 10_000, what: 'test group removed' },
    );
});

describe('process runner: held start', () => {
  it('the program first runs inside the group; exit reported as for a direct spawn', async () => {
    mkdirSync(group);
    const runner = createProcessRunner();
    const logFile = join(work, 'in-group.log');
    let exit: { code: number | null } | undefined;
    const s = await runner.spawn(
      { argv: ['cat', '/proc/self/cgroup'], cwd: work, env, logFile, cgroupProcs: [join(group, 'cgroup.procs')] },
      (code) => (exit = { code }),
    );
    expect(s.pid).toBeGreaterThan(1);
    await waitUntil(() => exit, { what: 'exit' });
    expect(exit!.code).toBe(0);
    // cat's first act is reading where it is: already in the group (the same pid as the launcher).
    expect(readFileSync(logFile, 'utf8')).toContain(`:memory:/${group.split('/').pop()}`);
  });

  it('a group that cannot be joined fails the start and the program never runs', async () => {
    const runner = createProcessRunner();
    const marker = join(work, 'ran');
    await expect(
      runner.spawn(
        {
          argv: ['/bin/touch', marker],
          cwd: work,
          env,
          logFile: join(work, 'no-group.log'),
          cgroupProcs: [join(work, 'no-such-group', 'cgroup.procs')],
        },
        () => {},
      ),
    ).rejects.toThrow(/cannot join its cgroups/);
    await new Promise((r) => setTimeout(r, 300)); // give a wrongly released program time to act
    expect(existsSync(marker)).toBe(false);
  });

  it('a missing program is a spawn error, as without the launcher', async () => {
    const runner = createProcessRunner();
    await expect(
      runner.spawn(
        {
          argv: ['bin/not-there'],
          cwd: work,
          env,
          logFile: join(work, 'missing.log'),
          cgroupProcs: [join(group, 'cgroup.procs')],
        },
        () => {},
      ),
    ).rejects.toThrow(/ENOENT/);
    await expect(
      runner.spawn(
        {
          argv: ['no-such-program-anywhere'],
          cwd: work,
          env,
          logFile: join(work, 'missing.log'),
          cgroupProcs: [join(group, 'cgroup.procs')],
        },
        () => {},
      ),
    ).rejects.toThrow(/ENOENT/);
  });
});
