// The aspire binary's command line: bad config files name every bad key and exit 2 (the exit
// codes shared by the four programs, docs/cli.md: 0 ok, 1 runtime failure, 2 usage or config
// error, 3 already running; before issue 15 aspire exited 1 for a config error and for a held
// pidfile), token create prints a token the server accepts, SIGTERM stops cleanly.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  it('a bad config file exits 2 naming every bad key; an unknown flag exits 2', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        listen: 'here',
        offlineMissedSteps: 'three',
        nonsense: true,
        rateLimit: { statusPerSec: -1, what: 1 },
      }),
    );
    const r = await aspire(['serve', '--data-dir', join(dir, 'data'), '--config', file]);
    expect(r.code).toBe(2);
    for (const k of ['listen:', 'offlineMissedSteps:', 'nonsense: unknown key', 'rateLimit.what: unknown key'])
      expect(r.stderr).toContain(k);
    writeFileSync(file, '{"listen": ');
    const m = await aspire(['serve', '--data-dir', join(dir, 'data'), '--config', file]);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/malformed JSON/);
    const missing = await aspire(['serve', '--data-dir', join(dir, 'data'), '--config', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read/);
    const unknown = await aspire(['serve', '--no-such-flag']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--no-such-flag'/);
  }, 120_000);

  it.runIf(process.getuid?.() === 0)(
    'token create as root on a data dir owned by the service user leaves nothing root-owned there',
    async () => {
      // The packaged server's /var/lib/aspire belongs to the aspire user; nobody (65534) stands in.
      const data = join(dir, 'owned');
      mkdirSync(data);
      // The service user must be able to reach it: search (not read) permission on this run's temp dirs.
      for (const d of [tmpdir(), dir]) chmodSync(d, statSync(d).mode | 0o111);
      chownSync(data, 65534, 65534);
      const t = await aspire(['token', 'create', '--data-dir', data, '--name', 'ops']);
      expect(t.code, t.stderr).toBe(0);
      expect(t.stderr).toMatch(new RegExp(`running as uid 65534 gid 65534, the owner of ${data}`));
      expect(t.stdout.trim()).toMatch(/^asp_/);
      const files = readdirSync(data);
      expect(files).toContain('aspire.db');
      for (const f of files) expect(statSync(join(data, f)).uid, f).toBe(65534);
      // A root-owned data dir stays as it was (root's own files).
      const mine = join(dir, 'root-owned');
      mkdirSync(mine);
      expect((await aspire(['token', 'create', '--data-dir', mine, '--name', 'ops'])).stderr).not.toMatch(
        /running as uid/,
      );
      expect(statSync(join(mine, 'aspire.db')).uid).toBe(0);
    },
    120_000,
  );

  it('token create prints a token the server accepts, list shows it, revoke refuses it at once; SIGTERM stops cleanly', async () => {
    const data = join(dir, 'tok');
    const t = await aspire(['token', 'create', '--data-dir', data, '--name', 'ops']);
    expect(t.code).toBe(0);
    const token = t.stdout.trim();
    expect(token).toMatch(/^asp_[A-Za-z0-9_-]{40,}$/);
    // --name missing: a usage error.
    expect((await aspire(['token', 'create', '--data-dir', data])).code).toBe(2);
    const bin = binary('aspire');
    const child = new Child(bin.cmd, [...bin.args, 'serve', '--listen', '127.0.0.1:0', '--data-dir', data]);
    try {
      const m = await child.waitForLine(/^aspire: listening on (http:\/\/\S+)$/, 30_000);
      const ok = await fetch(`${m[1]}/api/v1/server/host`, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      // A second server on the same data dir refuses to start and says why: 3, already running.
      const second = await aspire(['serve', '--listen', '127.0.0.1:0', '--data-dir', data]);
      expect(second.code).toBe(3);
      expect(second.stderr).toMatch(/aspire\.pid is held by running process \d+/);
      const list = await aspire(['token', 'list', '--data-dir', data]);
      expect(list.stdout).toMatch(/^ops\tcreated \S+\tlast used /m);
      expect(list.stdout).toMatch(/^ops\t.*\trole admin\tno limits$/m);
      expect(list.stdout).not.toContain(token);
      // Revoked while the server runs: refused at once.
      expect((await aspire(['token', 'revoke', '--data-dir', data, '--name', 'ops'])).stdout).toMatch(
        /revoked 1 token/,
      );
      const gone = await fetch(`${m[1]}/api/v1/server/host`, { headers: { authorization: `Bearer ${token}` } });
      expect(gone.status).toBe(401);
      expect((await aspire(['token', 'revoke', '--data-dir', data, '--name', 'ops'])).code).toBe(1);
      child.kill('SIGTERM');
      expect(await child.exited).toEqual({ code: 0, signal: null });
    } finally {
      await child.stop();
    }
    const version = await aspire(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^aspire \d+\.\d+\.\d+\S* \(node 24\.\d+\.\d+, (x86_64|aarch64)\)$/);
    const help = await aspire(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:\n  aspire serve/);
    expect(help.stdout).toMatch(/Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 already running/);
    // A dozen aspire processes, each seconds on a loaded machine.
  }, 240_000);
});
