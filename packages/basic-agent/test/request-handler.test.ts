import { describe, expect, it } from 'vitest';
import { silentLogger } from '@aspire/agent-core';
import { ErrorCode } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { Limiter, handleRequest } from '../src/index.ts';
import type { PeriodicTasks } from '../src/cron/periodic-tasks.ts';

// Every frame gets one reply; malformed ones get failed/3021, never an exception.
const deps = {
  clock: new ManualClock(),
  logger: silentLogger(),
  limiter: new Limiter(1, 0),
  tasks: {
    list: (id: string) => ({ id, resp: 'success', retcode: 0, message: 'Normal termination', data: [] }),
  } as unknown as PeriodicTasks,
};

describe('request handler', () => {
  it.each([
    ['not an object', 'garbage', ''],
    ['array', [1, 2], ''],
    ['no method', { id: 'a' }, 'a'],
    ['sync.bash without cmd', { id: 'b', method: 'sync.bash' }, 'b'],
    ['sync.bash with a string timeout', { id: 'c', method: 'sync.bash', cmd: 'ls', timeout: '10' }, 'c'],
    ['sync.bash with timeout -1', { id: 'c1', method: 'sync.bash', cmd: 'ls', timeout: -1 }, 'c1'],
    ['sync.bash with timeout 0', { id: 'c2', method: 'sync.bash', cmd: 'ls', timeout: 0 }, 'c2'],
    ['sync.bash with timeout 1e12', { id: 'c3', method: 'sync.bash', cmd: 'ls', timeout: 1e12 }, 'c3'],
    ['getinfo with numeric args', { id: 'd', method: 'getinfo.kernel', args: 5 }, 'd'],
    ['task.add with a bad name', { id: 'e', method: 'task.add', name: 'a b', line: '* * * * * * root true' }, 'e'],
  ])('%s -> Invalid params', async (_name, frame, id) => {
    const r = await handleRequest(frame, deps);
    expect(r).toMatchObject({ id, resp: 'failed', retcode: ErrorCode.INVALID_PARAMS });
    expect(r.message).toMatch(/^Invalid params/);
  });

  it('unknown method and unknown collector have their own codes', async () => {
    expect(await handleRequest({ id: 'x', method: 'rm.rf' }, deps)).toMatchObject({
      retcode: ErrorCode.CHANNEL_UNKNOWN_METHOD,
    });
    expect(await handleRequest({ id: 'y', method: 'getinfo.nope' }, deps)).toMatchObject({
      retcode: ErrorCode.COLLECTOR_UNKNOWN,
    });
  });

  it('task.list goes to the periodic tasks', async () => {
    expect(await handleRequest({ id: 'z', method: 'task.list' }, deps)).toMatchObject({ id: 'z', resp: 'success' });
  });
});

describe('frame size', () => {
  it('a reply over the frame limit becomes a failed reply, not a dead session', async () => {
    const { fitFrame } = await import('../src/channel/channel-client.ts');
    const big = {
      id: 'p',
      resp: 'success' as const,
      retcode: 0,
      message: 'Normal termination',
      data: 'x'.repeat(2000),
    };
    expect(fitFrame(big, 1000)).toMatchObject({ id: 'p', resp: 'failed', retcode: ErrorCode.COLLECTOR_FAILED });
    expect(fitFrame(big, 10_000)).toBe(big);
  });
});
