// The server's data dir on a tiny tmpfs: an upload that fills the disk is answered 503 with the
// envelope, leaves no partial file, and the server keeps serving (status pushes, small uploads).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiStatus } from '@aspire/protocol';
import { startAspire, type AspireHandle } from '@aspire/testing';

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
});
