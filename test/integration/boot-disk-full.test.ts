// A full disk under the BootAgent's state dir and log (a real tmpfs of 256 KiB, mounted for the
// test; needs root, as CI runs): a job that cannot be journaled is not run but answered
// JOB_DISK_FULL, the agent keeps pushing, and once space is back jobs run again.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@aspire/protocol';
import { startAspire, startBoot, waitForSubtask, waitUntil, type AspireHandle, type BootHandle } from '@aspire/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const mnt = mkdtempSync(join(tmpdir(), 'boot-full-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { stdio: 'ignore' });
  mounted = true;
} catch {
  /* not root: the suite is skipped (it says so) */
}

let srv: AspireHandle;
let boot: BootHandle;

beforeAll(async () => {
  if (!mounted) return;
  srv = await startAspire();
  boot = await startBoot({
    serverUrl: srv.url,
    enrollSecret: srv.enrollSecret,
    step: 1,
    stateDir: join(mnt, 'state'),
    logFile: join(mnt, 'boot.log'),
  });
});

afterAll(async () => {
  await boot?.stop();
  await srv?.stop();
  boot?.cleanup();
  if (mounted) execFileSync('umount', [mnt]);
  rmdirSync(mnt);
});

/** Fill the file system to the last byte. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(4096);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

async function runTask(agentsn: string, tags: string) {
  const created = await srv.api('POST', '/api/v1/server/task', {
    command: 'config',
    agents: [agentsn],
    parameters: { tags },
  });
  expect(created.status).toBe(200);
  return waitForSubtask(srv, created.body.id);
}

describe.skipIf(!mounted)('full disk (tmpfs, root only)', () => {
  it('answers JOB_DISK_FULL instead of running an unjournaled job, keeps going, and recovers', async () => {
    const meta = await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta() : undefined), {
      timeoutMs: 30_000,
      what: 'trusted',
    });
    fill(join(mnt, 'fill'));
    const failed = await runTask(meta.agentsn, 'disk=full');
    expect(failed.errcode).toBe(ErrorCode.JOB_DISK_FULL);
    expect(failed.message).toMatch(/not run/);
    expect(boot.child.proc.exitCode).toBeNull();
    // Not applied: the job never ran.
    expect(boot.readMeta()!.tags).not.toBe('disk=full');

    unlinkSync(join(mnt, 'fill'));
    const ok = await runTask(meta.agentsn, 'disk=ok');
    expect(ok).toMatchObject({ state: 'SUCCESS', errcode: 0 });
    await waitUntil(() => boot.readMeta()?.tags === 'disk=ok', { timeoutMs: 10_000, what: 'tags persisted' });
    const host = await srv.api('GET', `/api/v1/server/agent?agentsn=${meta.agentsn}`);
    expect(host.body.host.status).toBe('online');
  });
});
