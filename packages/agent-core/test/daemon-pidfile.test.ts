import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRootLogger } from '@aspire/agent-core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { takePidfile } from '../src/daemon-pidfile.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'agent-core-daemon-pidfile-'));
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

/** stderr lines written while `fn` runs (the runner's one line for the operator). */
function stderrOf<T>(fn: () => T): { value: T; lines: string } {
  let lines = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines += chunk.toString();
    return true;
  });
  const value = fn();
  vi.restoreAllMocks();
  return { value, lines };
}

describe('takePidfile', () => {
  it('no path: nothing to take; a path: the lock, released on request', async () => {
    const root = createRootLogger({ name: 't', file: join(dir, 't.log') });
    await root.ready();
    expect(takePidfile('demo', undefined, root).kind).toBe('taken');
    const path = join(dir, 'run', 'demo.pid');
    const t = takePidfile('demo', path, root);
    expect(t.kind).toBe('taken');
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    t.release();
    expect(existsSync(path)).toBe(false);
  });

  it('held by a live process: exit 3, the reason on stderr and in the log', async () => {
    const logFile = join(dir, 't.log');
    const root = createRootLogger({ name: 't', file: logFile });
    await root.ready();
    const holder = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      const path = join(dir, 'demo.pid');
      writeFileSync(path, `${holder.pid}\n`);
      const later = Date.now() / 1000 + 60;
      utimesSync(path, later, later);
      const { value, lines } = stderrOf(() => takePidfile('demo', path, root));
      expect(value.kind).toBe('failed');
      if (value.kind === 'failed') {
        expect(value.code).toBe(3);
        expect(lines).toBe(`demo: ${value.message}\n`);
        expect(value.message).toContain(`held by running process ${holder.pid}`);
      }
      root.flush();
      expect(readFileSync(logFile, 'utf8')).toContain('held by running process');
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('a pidfile that cannot be written: exit 1 naming the path', async () => {
    const root = createRootLogger({ name: 't', file: join(dir, 't.log') });
    await root.ready();
    const plain = join(dir, 'plain');
    writeFileSync(plain, '');
    const path = join(plain, 'demo.pid');
    const { value, lines } = stderrOf(() => takePidfile('demo', path, root));
    expect(value.kind).toBe('failed');
    if (value.kind === 'failed') {
      expect(value.code).toBe(1);
      expect(value.message).toMatch(new RegExp(`^cannot take pidfile ${path}: `));
      expect(lines).toBe(`demo: ${value.message}\n`);
    }
  });
});
