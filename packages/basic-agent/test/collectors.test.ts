import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import { CollectorError } from '../src/collectors/collector.ts';
import { collect, COLLECTORS } from '../src/collectors/registry.ts';
import { withDeadline } from '../src/collectors/si.ts';

// The collectors' answers are checked against the host in test/integration/basic-ctl.test.ts
// (through the bundled Ctl); here: the parts that need no host.
afterEach(() => {
  vi.useRealTimers();
});

describe('collectors', () => {
  it('every collector but users refuses arguments with COLLECTOR_BAD_ARGUMENT before doing any work', async () => {
    for (const name of COLLECTORS.keys()) {
      if (name === 'users') continue;
      const r = await collect(`getinfo.${name}`, '-x');
      expect(r, name).toMatchObject({ ok: false, code: ErrorCode.COLLECTOR_BAD_ARGUMENT });
    }
  });

  it('a systeminformation call that never answers becomes COLLECTOR_FAILED at the deadline', async () => {
    vi.useFakeTimers();
    const hung = withDeadline('df', new Promise<never>(() => {}), 30_000);
    const caught = hung.catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(29_999);
    let settled = false;
    void caught.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const err = await caught;
    expect(err).toBeInstanceOf(CollectorError);
    expect(err).toMatchObject({
      code: ErrorCode.COLLECTOR_FAILED,
      message: expect.stringMatching(/df did not answer within 30 s/),
    });
  });

  it('in-process, as the agent runs them: the systeminformation modules load from source too', async () => {
    const r = await collect('getinfo.memory', undefined);
    expect(r.ok).toBe(true);
    const memTotal = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024;
    expect((r as { data: { total: number } }).data.total).toBe(memTotal);
  });

  it('an answer in time passes through; a rejection stays that rejection', async () => {
    await expect(withDeadline('x', Promise.resolve(42), 1000)).resolves.toBe(42);
    await expect(withDeadline('x', Promise.reject(new Error('boom')), 1000)).rejects.toThrow('boom');
  });
});
