import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, processStartTicks } from '@aspire/agent-core';
import { describe, expect, it } from 'vitest';

const FIXTURE = join(__dirname, 'fixtures', 'daemon-fixture.ts');

/** Run the fixture's parent (no -f) to its end: exit code and what it printed. */
async function runParent(mode: string): Promise<{ code: number | null; out: string; err: string }> {
  const p = spawn(process.execPath, [FIXTURE, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  p.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const [code] = (await once(p, 'exit')) as [number | null];
  return { code, out, err };
}

describe('daemonize', () => {
  it('the parent exits 0 once the detached child reports ready; the child lives on in its own session', async () => {
    const r = await runParent('ok');
    expect(r.code).toBe(0);
    const m = /^fixture: daemon started, pid (\d+)\n$/.exec(r.out);
    expect(m).not.toBeNull();
    const pid = Number(m?.[1]);
    try {
      expect(isAlive(pid)).toBe(true);
      // Its own session (setsid): field 6 of /proc/PID/stat is the session id, the pid itself.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      expect(Number(fields[3])).toBe(pid);
      expect(processStartTicks(pid)).toBeDefined();
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });

  it("the parent exits with the child's reported code and reason", async () => {
    const r = await runParent('fail');
    expect(r.code).toBe(2);
    expect(r.err).toBe('fixture: daemon failed to start: config is bad\n');
    expect(r.out).toBe('');
  });

  it('a child that dies before reporting fails the parent with 1', async () => {
    const r = await runParent('die');
    expect(r.code).toBe(1);
    expect(r.err).toBe('fixture: daemon exited before it was ready (code 7, signal null)\n');
  });
});
