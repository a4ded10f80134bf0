import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRootLogger } from '@aspire/agent-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'agent-core-logger-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('createRootLogger', () => {
  it('writes JSON lines with level names, the name and pid, and redacts secrets', async () => {
    const file = join(dir, 'logs', 'agent.log');
    const root = createRootLogger({ name: 'test-agent', file });
    await root.ready();
    root.logger.info(
      { token: 't0k', cfg: { secret: 's3', password: 'pw' }, headers: { authorization: 'Bearer x' }, ok: 1 },
      'hello',
    );
    root.logger.debug('below the level');
    // flush() cannot force a write the async destination already has in flight: wait for the line.
    const deadline = Date.now() + 30_000;
    while (!readFileSync(file, 'utf8').includes('hello') && Date.now() < deadline) {
      root.flush();
      await new Promise((r) => setTimeout(r, 20));
    }
    const [line, ...rest] = lines(file);
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ level: 'info', name: 'test-agent', pid: process.pid, msg: 'hello', ok: 1 });
    expect(line?.token).toBe('[redacted]');
    expect(line?.cfg).toEqual({ secret: '[redacted]', password: '[redacted]' });
    expect(line?.headers).toEqual({ authorization: '[redacted]' });
    expect(typeof line?.time).toBe('string');
    expect(readFileSync(file, 'utf8')).not.toMatch(/t0k|s3|Bearer/);
  });

  it('reopen after the file was moved away writes to a new file at the path', async () => {
    const file = join(dir, 'agent.log');
    const root = createRootLogger({ name: 'rotated', file, level: 'debug' });
    await root.ready();
    root.logger.debug('before');
    root.flush();
    renameSync(file, `${file}.1`);
    root.reopen();
    // The reopen is asynchronous: log once the new file is there.
    const deadline = Date.now() + 30_000;
    while (!existsSync(file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    root.logger.info('after');
    while (!readFileSync(file, 'utf8').includes('after') && Date.now() < deadline) {
      root.flush();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(lines(`${file}.1`).map((l) => l.msg)).toEqual(['before']);
    expect(lines(file).map((l) => l.msg)).toEqual(['after']);
  });

  it('a log file that cannot be opened throws at once', () => {
    const notDir = join(dir, 'plain');
    writeFileSync(notDir, '');
    expect(() => createRootLogger({ name: 'x', file: join(notDir, 'agent.log') })).toThrow();
  });
});
