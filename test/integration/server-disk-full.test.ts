// The server's data dir on a tiny tmpfs: an upload that fills the disk is answered 503 with the
// envelope, leaves no partial file, and the server keeps serving (status pushes, small uploads).
// Status pushes answered 200 while the disk is full are not lost (last_seen and uptime reach the
// database once space returns, the host is never swept offline meanwhile), and `aspire serve` on
// a full data dir says so in one line, exits 1 and leaves nothing behind.
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiStatus } from '@aspire/protocol';
import { binary, startAspire, type AspireHandle } from '@aspire/testing';

const mnt = mkdtempSync(join(tmpdir(), 'aspire-full-'));
let srv: AspireHandle;

beforeAll(async () => {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]);
  mkdirSync(join(mnt, 'data'));
  srv = await startAspire({ dataDir: join(mnt, 'data'), config: { uploadMaxBytes: 64 * 1024 * 1024 } });
});
afterAll(async () => {
  await srv?.stop();
  try {
    execFileSync('umount', [mnt]);
  } finally {
    rmSync(mnt, { recursive: true, force: true });
  }
});

async function upload(name: string, bytes: number) {
  const q = new URLSearchParams({ name, version: '1', os: 'linux', arch: 'x86_64', file: `${name}-1.bin` });
  const res = await fetch(`${srv.url}/api/v1/server/package?${q}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/octet-stream' },
    body: randomBytes(bytes),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** Fill the mount until the file system refuses (ENOSPC); returns the filler to remove. */
function fillDisk(): string {
  const path = join(mnt, `filler-${randomBytes(4).toString('hex')}`);
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    // The last partial pages too.
    try {
      for (;;) writeSync(fd, chunk, 0, 512);
    } catch {
      /* full */
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('full data disk', () => {
  it('an upload that does not fit is 503, leaves nothing behind, and the server goes on', async () => {
    const big = await upload('Huge', 8 * 1024 * 1024);
    expect(big.status).toBe(503);
    expect(big.body).toMatchObject({ status: ApiStatus.UNAVAILABLE });
    expect(big.body.cause).toMatch(/space/);
    expect(readdirSync(join(srv.dataDir, 'packages', '.incoming'))).toEqual([]);
    expect((await srv.api('GET', '/api/v1/server/package')).body.count).toBe(0);
    const small = await upload('Small', 10_000);
    expect(small.status).toBe(200);
    expect((await srv.api('GET', '/api/v1/server/package')).body.count).toBe(1);
  });

  it('status pushes answered 200 on a full disk keep their last_seen and uptime until space returns; the host stays online', async () => {
    const reg = await post(
      '/agent/register',
      { hostname: 'host-full', agentsn: 'full-1' },
      { 'x-aspire-enroll': srv.enrollSecret },
    );
    expect(reg.status).toBe(200);
    const sn: string = reg.body.agentsn;
    const headers = { 'x-aspire-credential': reg.body.credential as string };
    const body = (uptime: number, events: unknown[] = []) => ({
      hostname: 'host-full',
      agentsn: sn,
      version: '1.0.0',
      uptime,
      timestamp: Math.floor(Date.now() / 1000),
      step: 1,
      agents: [],
      jobs: [],
      events,
      os: 'linux',
      arch: 'x86_64',
    });
    const event = {
      localid: 1,
      occurred: Math.floor(Date.now() / 1000),
      kind: 'started',
      message: 'sub-agent started',
    };
    expect((await post('/agent/status', body(10), headers)).status).toBe(200); // the full write
    const host = async () => (await srv.api('GET', `/api/v1/server/agent?agentsn=${sn}`)).body.host;

    const filler = fillDisk();
    let uptime = 10;
    let lastAnswered = 0;
    try {
      // Writes fail now: a push carrying an event is refused (not acknowledged: the agent keeps it).
      const refused = await post('/agent/status', body(11, [event]), headers);
      expect(refused.status).toBe(503);
      expect(refused.body.cause).toMatch(/space/);
      // Quiet pushes at the host's step, for longer than offlineMissedSteps (3) x step (1 s)
      // and over many flush attempts: each answered 200.
      const until = Date.now() + 4500;
      while (Date.now() < until) {
        const r = await post('/agent/status', body(++uptime), headers);
        expect(r.status).toBe(200);
        lastAnswered = Date.now();
        await new Promise((r) => setTimeout(r, 250));
      }
      // Reads answer 200 (not 503) and show what was answered; the sweep kept the host online.
      const h = await host();
      expect(h).toMatchObject({ status: 'online', uptime });
      expect(Date.parse(h.last_seen)).toBeGreaterThanOrEqual(lastAnswered - 1000); // ISO 8601 (issue 13 item 8)
    } finally {
      rmSync(filler);
    }
    // Space is back, no restart: the agent's re-sent event is stored.
    expect((await post('/agent/status', body(++uptime, [event]), headers)).status).toBe(200);
    const events = await srv.api('GET', `/api/v1/server/event?agentsn=${sn}`);
    expect(events.body.events.map((e: any) => e.message)).toContain('sub-agent started');
    // And what was answered is in the database, not only in the server's memory.
    await srv.restart();
    const after = await host();
    expect(after).toMatchObject({ status: 'online', uptime });
    expect(Date.parse(after.last_seen)).toBeGreaterThanOrEqual(lastAnswered - 1000);
  });

  it('aspire serve on a full data dir: one line, exit 1, no pidfile or temp file left', async () => {
    const dataDir = join(mnt, 'fresh');
    mkdirSync(dataDir);
    const logDir = mkdtempSync(join(tmpdir(), 'aspire-full-log-'));
    const filler = fillDisk();
    try {
      const bin = binary('aspire');
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        execFile(
          bin.cmd,
          [
            ...bin.args,
            'serve',
            '--listen',
            '127.0.0.1:0',
            '--data-dir',
            dataDir,
            '--log-file',
            join(logDir, 'aspire.log'),
          ],
          { timeout: 60_000 },
          (err, _out, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
        );
      });
      expect(r.code).toBe(1);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(`^aspire: cannot start: no space left on the disk of the data dir ${dataDir} \\(ENOSPC`),
      );
      expect(r.stderr).not.toMatch(/sonic boom|\n\s+at /);
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      rmSync(filler);
      rmSync(logDir, { recursive: true, force: true });
    }
  });
});
