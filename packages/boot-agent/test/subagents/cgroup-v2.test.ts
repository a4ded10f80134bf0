// cgroup v2 file layout against a fake sysfs tree in a temp dir (unit layer: the real v1
// hierarchy is exercised by the integration suite).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@aspire/agent-core';
import { ManualClock } from '@aspire/testing';
import { createCgroupV2 } from '../../src/subagents/limits/cgroup-v2.ts';
import { createCgroupV1 } from '../../src/subagents/limits/cgroup-v1.ts';
import { probeLimiter } from '../../src/subagents/limits/probe.ts';
import { createWatchdog } from '../../src/subagents/limits/watchdog.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeV2(): string {
  const root = mkdtempSync(join(tmpdir(), 'fake-cg2-'));
  dirs.push(root);
  writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
  writeFileSync(join(root, 'cgroup.subtree_control'), '');
  return root;
}

const read = (p: string) => readFileSync(p, 'utf8');

describe('cgroup v2 layout (fake sysfs)', () => {
  it('writes cpu.max, memory.max, enables controllers down the tree, joins cgroup.procs', () => {
    const root = fakeV2();
    mkdirSync(join(root, 'aspire-t'));
    writeFileSync(join(root, 'aspire-t', 'cgroup.controllers'), 'cpu memory pids\n');
    const lim = createCgroupV2(root, 'aspire-t');
    const h = lim.attach('BasicAgent', 4242, { cpuPercent: 10, memoryBytes: 20 * 1024 * 1024, hits: 5 });
    const g = join(root, 'aspire-t', 'BasicAgent');
    expect(read(join(root, 'cgroup.subtree_control'))).toBe('+cpu +memory');
    expect(read(join(root, 'aspire-t', 'cgroup.subtree_control'))).toBe('+cpu +memory');
    expect(read(join(g, 'cpu.max'))).toBe('10000 100000');
    expect(read(join(g, 'memory.max'))).toBe(String(20 * 1024 * 1024));
    expect(read(join(g, 'cgroup.procs'))).toBe('4242');
    expect(h.killedForLimit({ signal: 'SIGKILL' })).toBe(false);
    // The kernel bumps oom_kill in memory.events when it kills inside the group.
    writeFileSync(join(g, 'memory.events'), 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n');
    expect(h.killedForLimit({ signal: 'SIGKILL' })).toBe(true);
  });

  it('cpu only leaves memory.max at max; no limits touches nothing', () => {
    const root = fakeV2();
    const lim = createCgroupV2(root, 'p');
    lim.attach('x', 1, { cpuPercent: 250, hits: 5 });
    expect(read(join(root, 'p', 'x', 'cpu.max'))).toBe('250000 100000');
    expect(read(join(root, 'p', 'x', 'memory.max'))).toBe('max');
    lim.attach('y', 2, { hits: 5 });
    expect(existsSync(join(root, 'p', 'y'))).toBe(false);
  });

  it('probe picks v2 on a unified tree and v1 on a tree with cpu/ and memory/', () => {
    const logger = silentLogger();
    const clock = new ManualClock();
    expect(probeLimiter({ cgroupRoot: fakeV2(), parent: 'p', clock, watchdogIntervalMs: 1000, logger }).kind).toBe(
      'cgroup-v2',
    );
    const v1 = mkdtempSync(join(tmpdir(), 'fake-cg1-'));
    dirs.push(v1);
    mkdirSync(join(v1, 'cpu'));
    mkdirSync(join(v1, 'memory'));
    expect(probeLimiter({ cgroupRoot: v1, parent: 'p', clock, watchdogIntervalMs: 1000, logger }).kind).toBe(
      'cgroup-v1',
    );
    expect(
      probeLimiter({ cgroupRoot: join(v1, 'nothing-here', 'x'), parent: 'p', clock, watchdogIntervalMs: 1000, logger })
        .kind,
    ).not.toBe('cgroup-v2');
  });

  it('the probe leaves no parent group it created; one that existed stays', () => {
    const logger = silentLogger();
    const clock = new ManualClock();
    const v1 = mkdtempSync(join(tmpdir(), 'fake-cg1-'));
    dirs.push(v1);
    mkdirSync(join(v1, 'cpu'));
    mkdirSync(join(v1, 'memory'));
    expect(probeLimiter({ cgroupRoot: v1, parent: 'p', clock, watchdogIntervalMs: 1000, logger }).kind).toBe(
      'cgroup-v1',
    );
    expect(existsSync(join(v1, 'cpu', 'p'))).toBe(false);
    expect(existsSync(join(v1, 'memory', 'p'))).toBe(false);
    mkdirSync(join(v1, 'cpu', 'q'));
    probeLimiter({ cgroupRoot: v1, parent: 'q', clock, watchdogIntervalMs: 1000, logger });
    expect(existsSync(join(v1, 'cpu', 'q'))).toBe(true);
    expect(existsSync(join(v1, 'memory', 'q'))).toBe(false);
    const v2 = fakeV2();
    expect(probeLimiter({ cgroupRoot: v2, parent: 'p', clock, watchdogIntervalMs: 1000, logger }).kind).toBe(
      'cgroup-v2',
    );
    expect(existsSync(join(v2, 'p'))).toBe(false);
    // The limiter creates the parent again when an agent needs a group.
    const lim = createCgroupV1(v1, 'p');
    lim.attach('a', 7, { cpuPercent: 10, memoryBytes: 1 << 20, hits: 5 });
    expect(existsSync(join(v1, 'cpu', 'p', 'a'))).toBe(true);
  });

  it('v1 layout writes quota/period and limit_in_bytes; oom_control oom_kill marks a limit kill', () => {
    const root = mkdtempSync(join(tmpdir(), 'fake-cg1-'));
    dirs.push(root);
    const lim = createCgroupV1(root, 'p');
    const h = lim.attach('a', 7, { cpuPercent: 10, memoryBytes: 50 * 1024 * 1024, hits: 5 });
    expect(read(join(root, 'cpu', 'p', 'a', 'cpu.cfs_quota_us'))).toBe('10000');
    expect(read(join(root, 'cpu', 'p', 'a', 'cpu.cfs_period_us'))).toBe('100000');
    expect(read(join(root, 'memory', 'p', 'a', 'memory.limit_in_bytes'))).toBe(String(50 * 1024 * 1024));
    writeFileSync(
      join(root, 'memory', 'p', 'a', 'memory.oom_control'),
      'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n',
    );
    expect(h.killedForLimit({ signal: 'SIGKILL' })).toBe(true);
  });
});

describe('watchdog (ManualClock, fake sampler)', () => {
  it('kills after `hits` consecutive violations; a good sample resets the count', async () => {
    const clock = new ManualClock();
    const samples = [30, 30, 5, 30, 30, 30];
    const killed: number[] = [];
    const lim = createWatchdog({
      clock,
      intervalMs: 1000,
      logger: silentLogger(),
      sample: async () => ({ cpu: samples.shift() ?? 30, memory: 0 }),
      kill: (p) => killed.push(p),
    });
    const h = lim.attach('a', 9, { cpuPercent: 10, hits: 3 });
    await clock.advance(5000);
    expect(killed).toEqual([]);
    await clock.advance(1000);
    expect(killed).toEqual([9]);
    expect(h.killedForLimit({ signal: 'SIGKILL' })).toBe(true);
  });
});
