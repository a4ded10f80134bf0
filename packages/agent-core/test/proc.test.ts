import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  bootTimeSeconds,
  isAlive,
  isSameProcess,
  processStartTicks,
  processStartUnix,
  processState,
} from '@aspire/agent-core';
import { describe, expect, it } from 'vitest';

describe('process identity from /proc', () => {
  it('reads this process: alive, running or sleeping, started before now', () => {
    expect(isAlive(process.pid)).toBe(true);
    expect(['R', 'S', 'D']).toContain(processState(process.pid));
    const ticks = processStartTicks(process.pid);
    expect(ticks).toMatch(/^\d+$/);
    expect(isSameProcess(process.pid, ticks)).toBe(true);
    expect(isSameProcess(process.pid, `${Number(ticks) + 1}`)).toBe(false);
    expect(isSameProcess(process.pid, undefined)).toBe(false);
    const started = processStartUnix(process.pid) ?? 0;
    expect(started).toBeGreaterThan(bootTimeSeconds());
    expect(started).toBeLessThanOrEqual(Date.now() / 1000 + 1);
  });

  it('a pid that is not there, or not a pid, is not alive', () => {
    expect(isAlive(999_999_999)).toBe(false);
    expect(isAlive(0)).toBe(false);
    expect(isAlive(-1)).toBe(false);
    expect(isAlive(1.5)).toBe(false);
    expect(processState(999_999_999)).toBeUndefined();
    expect(processStartTicks(999_999_999)).toBeUndefined();
    expect(processStartUnix(999_999_999)).toBeUndefined();
  });

  it('a command name holding ") " does not confuse the parse; a killed process is not alive', async () => {
    const child = spawn('bash', ['-c', 'exec -a "a) b (c" sleep 600'], { stdio: 'ignore' });
    const pid = child.pid ?? 0;
    try {
      expect(isAlive(pid)).toBe(true);
      expect(processStartTicks(pid)).toMatch(/^\d+$/);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    expect(isAlive(pid)).toBe(false);
  });

  it('a zombie (exited, its parent never reaps it) is not alive', async () => {
    // sh starts a short sleep, prints its pid, then becomes a long sleep that never waits for it.
    const parent = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 600'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const [line] = (await once(parent.stdout, 'data')) as [Buffer];
      const pid = Number(line.toString().trim());
      const deadline = Date.now() + 30_000;
      while (processState(pid) !== 'Z' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(processState(pid)).toBe('Z');
      expect(isAlive(pid)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
