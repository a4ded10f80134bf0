// The aspire binary's command line: bad config files name every bad key and exit non-zero,
// token create prints a token the server accepts, SIGTERM stops cleanly.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { binary, Child } from '@aspire/testing';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'aspire-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function aspire(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = binary('aspire');
  try {
    const r = await run(bin.cmd, [...bin.args, ...args], { timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('aspire CLI', () => {
  it('a bad config file exits 1 naming every bad key', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ listen: 'here', offlineMissedSteps: 'three', nonsense: true, rateLimit: { statusPerSec: -1, what: 1 } }));
    const r = await aspire(['serve', '--data-dir', join(dir, 'data'), '--config', file]);
    expect(r.code).toBe(1);
    for (const k of ['listen:', 'offlineMissedSteps:', 'nonsense: unknown key', 'rateLimit.what: unknown key']) expect(r.stderr).toContain(k);
    writeFileSync(file, '{"listen": ');
    const m = await aspire(['serve', '--data-dir', join(dir, 'data'), '--config', file]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/malformed JSON/);
    const missing = await aspire(['serve', '--data-dir', join(dir, 'data'), '--config', join(dir, 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read/);
  });

  it('token create prints a token the server accepts, list shows it, revoke refuses it at once; SIGTERM stops cleanly', async () => {
    const data = join(dir, 'tok');
    const t = await aspire(['token', 'create', '--data-dir', data, '--name', 'ops']);
    expect(t.code).toBe(0);
    const token = t.stdout.trim();
    expect(token).toMatch(/^asp_[A-Za-z0-9_-]{40,}$/);
    expect((await aspire(['token', 'create', '--data-dir', data])).code).not.toBe(0);
    const bin = binary('aspire');
    const child = new Child(bin.cmd, [...bin.args, 'serve', '--listen', '127.0.0.1:0', '--data-dir', data]);
    try {
      const m = await child.waitForLine(/^aspire: listening on (http:\/\/\S+)$/, 30_000);
      const ok = await fetch(`${m[1]}/api/v1/server/host`, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      // A second server on the same data dir refuses to start and says why.
      const second = await aspire(['serve', '--listen', '127.0.0.1:0', '--data-dir', data]);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/aspire\.pid is held by running process \d+/);
      const list = await aspire(['token', 'list', '--data-dir', data]);
      expect(list.stdout).toMatch(/^ops\tcreated \S+\tlast used /m);
      expect(list.stdout).toMatch(/^ops\t.*\trole admin\tno limits$/m);
      expect(list.stdout).not.toContain(token);
      // Revoked while the server runs: refused at once.
      expect((await aspire(['token', 'revoke', '--data-dir', data, '--name', 'ops'])).stdout).toMatch(/revoked 1 token/);
      const gone = await fetch(`${m[1]}/api/v1/server/host`, { headers: { authorization: `Bearer ${token}` } });
      expect(gone.status).toBe(401);
      expect((await aspire(['token', 'revoke', '--data-dir', data, '--name', 'ops'])).code).toBe(1);
      child.kill('SIGTERM');
      expect(await child.exited).toEqual({ code: 0, signal: null });
    } finally {
      await child.stop();
    }
    expect((await aspire(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
