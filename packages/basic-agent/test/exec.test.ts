import { describe, expect, it } from 'vitest';
import { ManualClock } from '@aspire/testing';
import { CappedOutput, Limiter, escalateKill, utf8Boundary } from '../src/index.ts';
import { checkSyncBashTimeout } from '@aspire/protocol';

describe('output capping', () => {
  it('keeps the first cap bytes and counts the rest', () => {
    const o = new CappedOutput(10);
    o.push(Buffer.from('abcdef'));
    o.push(Buffer.from('ghijkl'));
    o.push(Buffer.from('mnop'));
    expect(o.text()).toBe('abcdefghij');
    expect(o.truncated).toBe(true);
    expect(o.droppedBytes).toBe(6);
  });

  it('never cuts a UTF-8 character in half', () => {
    const o = new CappedOutput(4);
    o.push(Buffer.from('ab€')); // € is 3 bytes: only 2 of them fit
    expect(o.text()).toBe('ab');
    expect(utf8Boundary(Buffer.from('ab€'))).toBe(5);
  });

  it('is not truncated at exactly the cap', () => {
    const o = new CappedOutput(3);
    o.push(Buffer.from('abc'));
    expect(o.truncated).toBe(false);
  });
});

describe('kill escalation', () => {
  it('sends SIGTERM three times, then SIGKILL, to a group that ignores SIGTERM', async () => {
    const clock = new ManualClock();
    const sent: string[] = [];
    let alive = true;
    const e = escalateKill(4242, clock, { intervalMs: 1000, terms: 3 }, (pgid, sig) => {
      expect(pgid).toBe(4242);
      if (!alive) return false;
      sent.push(sig);
      if (sig === 'SIGKILL') alive = false;
      return true;
    });
    await clock.advance(5000);
    expect(sent).toEqual(['SIGTERM', 'SIGTERM', 'SIGTERM', 'SIGKILL']);
    await e.gone;
  });

  it('stops as soon as the group is gone', async () => {
    const clock = new ManualClock();
    const sent: string[] = [];
    let n = 0;
    escalateKill(1, clock, { intervalMs: 1000, terms: 3 }, (_p, sig) => {
      if (n++ >= 1) return false; // gone after the first SIGTERM
      sent.push(sig);
      return true;
    });
    await clock.advance(10_000);
    expect(sent).toEqual(['SIGTERM']);
  });
});

describe('limits', () => {
  it('timeout: default 120 s; 1 s to a day; anything else refused, not clamped', () => {
    expect(checkSyncBashTimeout(undefined)).toEqual({ ok: true, seconds: 120 });
    expect(checkSyncBashTimeout(1)).toEqual({ ok: true, seconds: 1 });
    expect(checkSyncBashTimeout(10)).toEqual({ ok: true, seconds: 10 });
    expect(checkSyncBashTimeout(86_400)).toEqual({ ok: true, seconds: 86_400 });
    for (const bad of [-1, 0, 0.1, 86_401, 1e12, Number.NaN, Number.POSITIVE_INFINITY, '10', null]) {
      const r = checkSyncBashTimeout(bad);
      expect(r.ok, String(bad)).toBe(false);
      if (!r.ok) expect(r.error).toMatch(/^\/timeout: must be a number of seconds from 1 to 86400/);
    }
  });

  it('runs up to the concurrency, queues up to queueMax, refuses beyond', async () => {
    const l = new Limiter(2, 1);
    const gates: (() => void)[] = [];
    const job = () => new Promise<void>((r) => gates.push(r));
    const a = l.run(job);
    const b = l.run(job);
    const c = l.run(job);
    const d = await l.run(job);
    expect(d.ok).toBe(false);
    await Promise.resolve();
    expect(l.active).toBe(2);
    expect(l.queued).toBe(1);
    gates[0]!();
    await a;
    await new Promise((r) => setImmediate(r));
    expect(gates).toHaveLength(3); // the queued one got the slot
    gates[1]!();
    gates[2]!();
    expect((await b).ok && (await c).ok).toBe(true);
    expect(l.active).toBe(0);
  });
});
