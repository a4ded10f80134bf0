// `aspire serve` on a port another process holds: one clear stderr line naming the address and
// the setting to change (--listen / config key "listen"), exit 1 (a runtime failure), no second
// crash from the logger ("sonic boom is not ready yet") and nothing left in the data dir. The
// command hub's port (--hub-listen) likewise.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binary, makeTestCa } from '@aspire/testing';

const dir = mkdtempSync(join(tmpdir(), 'aspire-busy-'));
let holder: Server;
let port: number;

beforeAll(async () => {
  holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  port = (holder.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => holder.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function serve(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const bin = binary('aspire');
  return new Promise((resolve) => {
    execFile(bin.cmd, [...bin.args, 'serve', ...args], { timeout: 60_000 }, (err, _stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr });
    });
  });
}

const ONE_LINE = () =>
  new RegExp(
    `^aspire: cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use .*\\(EADDRINUSE\\); choose another address with --listen HOST:PORT \\(config key "listen"\\)$`,
  );

describe('aspire serve on a busy port', () => {
  it('logging to a file: exactly one stderr line naming the port and the setting, exit 1, nothing left behind', async () => {
    const data = join(dir, 'file-log');
    const log = join(dir, 'logs', 'aspire.log');
    const r = await serve(['--listen', `127.0.0.1:${port}`, '--data-dir', data, '--log-file', log]);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(ONE_LINE());
    expect(r.stderr).not.toMatch(/sonic boom/);
    // The log file was written (the logger was ready), and no lock or temp file stays.
    expect(readFileSync(log, 'utf8')).toMatch(/"msg":"no enrollSecret configured/);
    expect(readdirSync(data).filter((f) => f.startsWith('aspire.pid'))).toEqual([]);
  });

  it('logging to stderr: the one plain line beside the JSON log lines, exit 1', async () => {
    const data = join(dir, 'stderr-log');
    const r = await serve(['--listen', `127.0.0.1:${port}`, '--data-dir', data]);
    expect(r.code).toBe(1);
    const plain = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
    expect(plain).toHaveLength(1);
    expect(plain[0]).toMatch(ONE_LINE());
    expect(r.stderr).not.toMatch(/sonic boom|\n\s+at /);
    expect(existsSync(join(data, 'aspire.pid'))).toBe(false);
  });

  it('the command hub on a busy port: one line naming --hub-listen, exit 1, nothing left behind', async () => {
    mkdirSync(join(dir, 'ca'));
    const ca = makeTestCa({ dir: join(dir, 'ca') });
    const data = join(dir, 'hub');
    const r = await serve([
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      data,
      '--log-file',
      join(dir, 'logs', 'hub.log'),
      '--hub-listen',
      `127.0.0.1:${port}`,
      '--hub-cert',
      ca.serverCertFile,
      '--hub-key',
      ca.serverKeyFile,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l !== '')).toEqual([
      `aspire: cannot listen on 127.0.0.1:${port}: the address is already in use (another process listens there) (EADDRINUSE); choose another address with --hub-listen HOST:PORT`,
    ]);
    expect(existsSync(join(data, 'aspire.pid'))).toBe(false);
  });
});
