import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquirePidfile, PidfileLockedError } from '@aspire/agent-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'agent-core-pidfile-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A real process that lives until killed. */
function sleeper(): { pid: number; stop: () => void } {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('cannot start sleep');
  return { pid: child.pid, stop: () => child.kill('SIGKILL') };
}

describe('acquirePidfile', () => {
  it('writes the pid, creating the directory, and the release removes only its own file', () => {
    const path = join(dir, 'run', 'agent.pid');
    const release = acquirePidfile(path);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    expect(readdirSync(join(dir, 'run'))).toEqual(['agent.pid']);
    release();
    expect(existsSync(path)).toBe(false);
    // A release after another process took the file over leaves that file alone.
    const again = acquirePidfile(path);
    writeFileSync(path, '999999999\n');
    again();
    expect(readFileSync(path, 'utf8')).toBe('999999999\n');
  });

  it('refuses while a live process that wrote the file holds it', () => {
    const holder = sleeper();
    try {
      const path = join(dir, 'agent.pid');
      writeFileSync(path, `${holder.pid}\n`);
      // Written well after the holder started: it is the holder's.
      const later = Date.now() / 1000 + 60;
      utimesSync(path, later, later);
      let err: unknown;
      try {
        acquirePidfile(path);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PidfileLockedError);
      const locked = err as PidfileLockedError;
      expect(locked.code).toBe('EPIDLOCKED');
      expect(locked.pid).toBe(holder.pid);
      expect(locked.message).toBe(
        `pidfile ${path} is held by running process ${holder.pid}; is another instance running?`,
      );
      expect(readdirSync(dir)).toEqual(['agent.pid']);
    } finally {
      holder.stop();
    }
  });

  it('takes over a file of a dead pid, garbage, or a pid reused by a process started after it', () => {
    const path = join(dir, 'agent.pid');
    writeFileSync(path, '999999999\n');
    acquirePidfile(path)();
    writeFileSync(path, 'not a pid\n');
    acquirePidfile(path)();
    const reused = sleeper();
    try {
      writeFileSync(path, `${reused.pid}\n`);
      // The file claims to be from long before this process started: not this process's file.
      utimesSync(path, 1_000_000, 1_000_000);
      const release = acquirePidfile(path);
      expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
      release();
    } finally {
      reused.stop();
    }
  });
});
