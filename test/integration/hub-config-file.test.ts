// The command hub's settings live in the server config file (`hub` object, docs/server.md),
// with the `aspire serve --hub-*` flags over them: a real server started from the file alone
// runs the hub; a flag wins over its key; a busy port from the file names the config key.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Child, binary, makeTestCa, type TestCa } from '@aspire/testing';

const dir = mkdtempSync(join(tmpdir(), 'hub-config-'));
let ca: TestCa;
let holder: Server;
let busy: number;
const children: Child[] = [];

beforeAll(async () => {
  ca = makeTestCa();
  holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  busy = (holder.address() as { port: number }).port;
});
afterAll(async () => {
  for (const c of children) await c.stop().catch(() => undefined);
  await new Promise((resolve) => holder.close(resolve));
  ca?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function configFile(name: string, hub: Record<string, unknown>): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      listen: '127.0.0.1:0',
      dataDir: join(dir, `${name}-data`),
      hub: { cert: ca.serverCertFile, key: ca.serverKeyFile, ...hub },
    }),
  );
  return file;
}

function serve(args: string[]): Child {
  const bin = binary('aspire');
  const child = new Child(bin.cmd, [...bin.args, 'serve', ...args]);
  children.push(child);
  return child;
}

describe('the hub from the server config file', () => {
  it('hub.listen, hub.cert and hub.key in the file start the hub without any --hub-* flag', async () => {
    const server = serve(['--config', configFile('file-only', { listen: '127.0.0.1:0', idleTimeoutMs: 60_000 })]);
    await server.waitForLine(/^aspire: hub listening on tls:\/\/127\.0\.0\.1:\d+$/, 60_000);
    await server.stop(30_000);
  });

  it('a --hub-listen flag wins over hub.listen of the file', async () => {
    const server = serve([
      '--config',
      configFile('flag-wins', { listen: `127.0.0.1:${busy}` }),
      '--hub-listen',
      '127.0.0.1:0',
    ]);
    const m = await server.waitForLine(/^aspire: hub listening on tls:\/\/127\.0\.0\.1:(\d+)$/, 60_000);
    expect(Number(m[1])).not.toBe(busy);
    await server.stop(30_000);
  });

  it('a busy hub.listen from the file: one line naming --hub-listen and the config key, exit 1', async () => {
    const bin = binary('aspire');
    const file = configFile('busy', { listen: `127.0.0.1:${busy}` });
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        bin.cmd,
        [...bin.args, 'serve', '--config', file, '--log-file', join(dir, 'busy.log')],
        { timeout: 60_000 },
        (err, _o, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `aspire: cannot listen on 127.0.0.1:${busy}: the address is already in use (another process listens there) (EADDRINUSE); choose another address with --hub-listen HOST:PORT (config key "hub.listen")`,
    );
  });

  it('a bad hub key in the file is a config error (exit 2) naming hub.KEY', async () => {
    const bin = binary('aspire');
    const file = configFile('bad', { listen: '127.0.0.1:0', maxBadFrames: 'many', colour: 'red' });
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(bin.cmd, [...bin.args, 'serve', '--config', file], { timeout: 60_000 }, (err, _o, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('hub.maxBadFrames: must be a number');
    expect(r.stderr).toContain('hub.colour: unknown key');
  });
});
