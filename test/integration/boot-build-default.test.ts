// The compiled-in server list (docs/design.md §3 -DBOOT_SERVER_ADDR, here BOOT_SERVER_ADDR at build time):
// a boot built with it registers without -S, and that list comes first, before -S.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Child, startAspire, waitUntil, type AspireHandle } from '@aspire/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { buildAll } from '../../scripts/build.mjs';

let srv: AspireHandle;
let dir: string;
const children: Child[] = [];

beforeAll(async () => {
  srv = await startAspire();
  dir = mkdtempSync(join(tmpdir(), 'boot-builtin-'));
  const saved = process.env.BOOT_SERVER_ADDR;
  process.env.BOOT_SERVER_ADDR = new URL(srv.url).host;
  try {
    await buildAll({ only: ['boot'], outdir: dir });
  } finally {
    if (saved === undefined) delete process.env.BOOT_SERVER_ADDR;
    else process.env.BOOT_SERVER_ADDR = saved;
  }
});

afterAll(async () => {
  for (const c of children) await c.stop();
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// The single executables are built by the packaging step with their own BOOT_SERVER_ADDR.
describe.skipIf(!!process.env.ASPIRE_BIN_DIR)('build-time server list', () => {
  it('registers and pushes through the compiled-in server without -S; it is tried before -S', async () => {
    writeFileSync(join(dir, 'boot.json'), JSON.stringify({ step: 1, enrollSecret: srv.enrollSecret }));
    const args = (n: string) => [
      join(dir, 'boot.cjs'),
      '-f',
      '-c',
      join(dir, 'boot.json'),
      '-d',
      join(dir, `state-${n}`),
      '-L',
      join(dir, `${n}.log`),
      '-P',
      join(dir, `${n}.pid`),
    ];
    const plain = new Child(process.execPath, args('plain'));
    // -S names a dead server after the compiled-in one: the compiled-in one answers first.
    const withS = new Child(process.execPath, [...args('withS'), '-S', '127.0.0.1:9']);
    children.push(plain, withS);
    for (const n of ['plain', 'withS']) {
      const meta = await waitUntil(
        () => {
          try {
            const m = JSON.parse(readFileSync(join(dir, `state-${n}`, 'meta.json'), 'utf8'));
            return m.trusted ? m : undefined;
          } catch {
            return undefined;
          }
        },
        { timeoutMs: 30_000, what: `${n} trusted` },
      );
      const host = await srv.api('GET', `/api/v1/server/agent?agentsn=${meta.agentsn}`);
      expect(host.body.host.status).toBe('online');
      expect(readFileSync(join(dir, `${n}.log`), 'utf8')).not.toContain('failed');
    }
  });
});
