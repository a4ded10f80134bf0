import { describe, expect, it } from 'vitest';
import { silentLogger } from '@aspire/agent-core';
import { ErrorCode, type TaskResultFrame } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { CronScheduler, Limiter, handleRequest, parseTaskLine } from '../src/index.ts';
import type { PeriodicTasks } from '../src/cron/periodic-tasks.ts';
import { CancelledByServer, RunningCommands, cancelledByServer } from '../src/exec/running-commands.ts';
import { outcomeToReply } from '../src/exec/sync-bash.ts';

describe('RunningCommands', () => {
  it('cancel aborts only the named request, with a reason that tells it from the agent stopping', () => {
    const running = new RunningCommands();
    const stop = new AbortController();
    const a = running.track('hub.1', stop.signal);
    const b = running.track('hub.2', stop.signal);
    expect(running.cancel('hub.9')).toBe(false);
    expect(running.cancel('hub.1')).toBe(true);
    expect(running.cancel('hub.1')).toBe(false);
    expect(a.signal.aborted).toBe(true);
    expect(a.signal.reason).toBeInstanceOf(CancelledByServer);
    expect(cancelledByServer(a.signal)).toBe(true);
    expect(b.signal.aborted).toBe(false);
    stop.abort(new Error('agent stopping'));
    expect(b.signal.aborted).toBe(true);
    expect(cancelledByServer(b.signal)).toBe(false);
    a.release();
    b.release();
    expect(running.size).toBe(0);
  });

  it('a cancelled command answers EXEC_CANCELLED with its output; the agent stopping stays EXEC_ERROR', () => {
    const o = {
      kind: 'aborted' as const,
      signal: 'SIGTERM',
      output: 'partial',
      truncated: false,
      droppedBytes: 0,
      durationMs: 5,
    };
    expect(outcomeToReply('r', o, 300, true)).toMatchObject({
      id: 'r',
      resp: 'failed',
      retcode: ErrorCode.EXEC_CANCELLED,
      data: 'partial',
    });
    expect(outcomeToReply('r', o, 300, false)).toMatchObject({ retcode: ErrorCode.EXEC_ERROR });
  });
});

describe('cancel frame', () => {
  const running = new RunningCommands();
  const cancelledRuns: string[] = [];
  const deps = {
    clock: new ManualClock(),
    logger: silentLogger(),
    limiter: new Limiter(1, 0),
    running,
    tasks: {
      cancelRun: (name: string) => (name === 'busy' ? (cancelledRuns.push(name), true) : false),
    } as unknown as PeriodicTasks,
  };

  it.each([
    ['neither target nor name', { id: 'c1', method: 'cancel' }],
    ['both target and name', { id: 'c2', method: 'cancel', target: 'x', name: 'y' }],
    ['a numeric target', { id: 'c3', method: 'cancel', target: 5 }],
  ])('%s -> Invalid params', async (_n, frame) => {
    expect(await handleRequest(frame, deps)).toMatchObject({
      id: frame.id,
      resp: 'failed',
      retcode: ErrorCode.INVALID_PARAMS,
    });
  });

  it('cancels a running request by its frame id, a periodic run by name; nothing running is CHANNEL_NOTHING_TO_CANCEL', async () => {
    const t = running.track('hub.7');
    expect(await handleRequest({ id: 'k1', method: 'cancel', target: 'hub.7' }, deps)).toMatchObject({
      id: 'k1',
      resp: 'success',
      data: { cancelled: 1 },
    });
    expect(cancelledByServer(t.signal)).toBe(true);
    t.release();
    expect(await handleRequest({ id: 'k2', method: 'cancel', target: 'hub.7' }, deps)).toMatchObject({
      resp: 'failed',
      retcode: ErrorCode.CHANNEL_NOTHING_TO_CANCEL,
    });
    expect(await handleRequest({ id: 'k3', method: 'cancel', name: 'busy' }, deps)).toMatchObject({ resp: 'success' });
    expect(cancelledRuns).toEqual(['busy']);
    expect(await handleRequest({ id: 'k4', method: 'cancel', name: 'idle' }, deps)).toMatchObject({
      resp: 'failed',
      retcode: ErrorCode.CHANNEL_NOTHING_TO_CANCEL,
    });
  });
});

describe('CronScheduler.cancel', () => {
  it('aborts the run going now with a cancel reason and keeps the schedule', async () => {
    const clock = new ManualClock();
    const seen: AbortSignal[] = [];
    const results: TaskResultFrame[] = [];
    const sched = new CronScheduler({
      clock,
      logger: silentLogger(),
      onResult: (r) => results.push(r),
      run: (_task, signal) => {
        seen.push(signal);
        return new Promise((resolve) => {
          signal.addEventListener(
            'abort',
            () =>
              resolve({
                duration_ms: 1,
                retcode: -1,
                errcode: cancelledByServer(signal) ? ErrorCode.EXEC_CANCELLED : ErrorCode.EXEC_ERROR,
                output: '',
                truncated: false,
              }),
            { once: true },
          );
        });
      },
    });
    const p = parseTaskLine('* * * * * * root sleep 300', 'UTC');
    if (!p.ok) throw new Error(p.error);
    sched.setTasks('server', [
      { name: 'long', source: 'server', line: 'x', schedule: p.schedule, user: p.user, command: p.command },
    ]);
    expect(sched.cancel('long')).toBe(false);
    sched.start();
    await clock.advance(1000);
    expect(seen).toHaveLength(1);
    expect(sched.cancel('nope')).toBe(false);
    expect(sched.cancel('long')).toBe(true);
    await clock.advance(0);
    expect(results.at(-1)).toMatchObject({ name: 'long', errcode: ErrorCode.EXEC_CANCELLED });
    expect(sched.list()[0]).toMatchObject({ running: false });
    // The schedule goes on: the next fire starts a fresh run.
    await clock.advance(1000);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.aborted).toBe(false);
    sched.stop();
  });
});
