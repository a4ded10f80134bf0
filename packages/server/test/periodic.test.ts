import { describe, expect, it } from 'vitest';
import { silentLogger } from '@aspire/agent-core';
import { ManualClock, flushMicrotasks } from '@aspire/testing';
import { Periodic, type PeriodicReason } from '../src/periodic.ts';

// The reason a pass runs decides whether a cluster claims it (timed passes, once per period
// across the nodes) or runs it here at once (triggered passes): app.ts's scheduler relies on it.

describe('Periodic', () => {
  it('tells each pass why it runs: timer when the period comes round, trigger when asked for now', async () => {
    const clock = new ManualClock();
    const seen: PeriodicReason[] = [];
    const p = new Periodic('t', clock, 1000, async (why) => void seen.push(why), silentLogger());
    p.start();
    await clock.advance(1000);
    expect(seen).toEqual(['timer']);
    p.trigger();
    await flushMicrotasks();
    expect(seen).toEqual(['timer', 'trigger']);
    // The period restarts after the triggered pass.
    await clock.advance(999);
    expect(seen).toHaveLength(2);
    await clock.advance(1);
    expect(seen).toEqual(['timer', 'trigger', 'timer']);
    await p.stop();
  });

  it('a trigger during a pass runs one more pass right after it, as a trigger; never two at once', async () => {
    const clock = new ManualClock();
    const seen: PeriodicReason[] = [];
    let release: () => void = () => {};
    let running = 0;
    let most = 0;
    const p = new Periodic(
      't',
      clock,
      1000,
      async (why) => {
        seen.push(why);
        running++;
        most = Math.max(most, running);
        if (seen.length === 1) await new Promise<void>((r) => (release = r));
        running--;
      },
      silentLogger(),
    );
    p.start();
    await clock.advance(1000);
    p.trigger();
    p.trigger();
    await flushMicrotasks();
    expect(seen).toEqual(['timer']);
    release();
    await clock.advance(0);
    expect(seen).toEqual(['timer', 'trigger']);
    expect(most).toBe(1);
    await p.stop();
  });
});
