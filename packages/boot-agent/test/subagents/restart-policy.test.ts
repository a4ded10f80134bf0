import { describe, expect, it } from 'vitest';
import { decide, strikesAfterRun } from '../../src/subagents/restart-policy.ts';

const S = 1000;
const M = 60 * S;
// design.md defaults: 3 min hold, 15 min strike window, 3 strikes.
const cfg = { restartHoldMs: 3 * M, strikeWindowMs: 15 * M, maxStrikes: 3 };
const T0 = 1_000_000_000;

interface Row {
  what: string;
  strikes: number;
  ranMs: number;
  limitKill?: boolean;
  signal?: string | null;
  code?: number | null;
  want: { strikes: number; struck: boolean; fatal: boolean; restartInMs?: number; status: string };
}

const rows: Row[] = [
  {
    what: 'crash at once, first time: strike 1, restart after the hold',
    strikes: 0,
    ranMs: 0,
    code: 1,
    want: { strikes: 1, struck: true, fatal: false, restartInMs: 3 * M, status: 'stoped' },
  },
  {
    what: 'crash at once, second time: strike 2',
    strikes: 1,
    ranMs: 0,
    code: 1,
    want: { strikes: 2, struck: true, fatal: false, restartInMs: 3 * M, status: 'stoped' },
  },
  {
    what: 'crash at once, third time: fatal, no restart',
    strikes: 2,
    ranMs: 0,
    code: 1,
    want: { strikes: 3, struck: true, fatal: true, status: 'fatal' },
  },
  {
    what: 'already past max strikes stays fatal',
    strikes: 5,
    ranMs: 10 * S,
    code: 1,
    want: { strikes: 6, struck: true, fatal: true, status: 'fatal' },
  },
  {
    what: 'exit after 1 min: strike, restart 2 min later (hold counts from the start)',
    strikes: 0,
    ranMs: 1 * M,
    code: 2,
    want: { strikes: 1, struck: true, fatal: false, restartInMs: 2 * M, status: 'stoped' },
  },
  {
    what: 'exit after exactly the hold: restart at once',
    strikes: 0,
    ranMs: 3 * M,
    code: 2,
    want: { strikes: 1, struck: true, fatal: false, restartInMs: 0, status: 'stoped' },
  },
  {
    what: 'exit after 10 min: strike (inside the window), restart at once',
    strikes: 1,
    ranMs: 10 * M,
    code: 1,
    want: { strikes: 2, struck: true, fatal: false, restartInMs: 0, status: 'stoped' },
  },
  {
    what: 'exit just inside the window with 2 strikes: fatal',
    strikes: 2,
    ranMs: 15 * M - 1,
    code: 1,
    want: { strikes: 3, struck: true, fatal: true, status: 'fatal' },
  },
  {
    what: 'exit at exactly the window: no strike, strikes cleared',
    strikes: 2,
    ranMs: 15 * M,
    code: 1,
    want: { strikes: 0, struck: false, fatal: false, restartInMs: 0, status: 'stoped' },
  },
  {
    what: 'exit after a long run clears earlier strikes',
    strikes: 2,
    ranMs: 2 * 60 * M,
    code: 1,
    want: { strikes: 0, struck: false, fatal: false, restartInMs: 0, status: 'stoped' },
  },
  {
    what: 'exit code 0 without being asked is abnormal too',
    strikes: 0,
    ranMs: 5 * S,
    code: 0,
    want: { strikes: 1, struck: true, fatal: false, restartInMs: 3 * M - 5 * S, status: 'stoped' },
  },
  {
    what: 'killed by a signal',
    strikes: 0,
    ranMs: 20 * S,
    code: null,
    signal: 'SIGSEGV',
    want: { strikes: 1, struck: true, fatal: false, restartInMs: 3 * M - 20 * S, status: 'stoped' },
  },
  {
    what: 'killed for limits: status killed, strike, restart after hold',
    strikes: 0,
    ranMs: 30 * S,
    code: null,
    signal: 'SIGKILL',
    limitKill: true,
    want: { strikes: 1, struck: true, fatal: false, restartInMs: 3 * M - 30 * S, status: 'killed' },
  },
  {
    what: 'killed for limits a third time: fatal wins over killed',
    strikes: 2,
    ranMs: 30 * S,
    code: null,
    signal: 'SIGKILL',
    limitKill: true,
    want: { strikes: 3, struck: true, fatal: true, status: 'fatal' },
  },
  {
    what: 'killed for limits after a long run: no strike, status killed',
    strikes: 1,
    ranMs: 20 * M,
    code: null,
    signal: 'SIGKILL',
    limitKill: true,
    want: { strikes: 0, struck: false, fatal: false, restartInMs: 0, status: 'killed' },
  },
];

describe('decide(): design.md restart policy', () => {
  it.each(rows)('$what', (r) => {
    const now = T0 + r.ranMs;
    const d = decide(
      { lastStartAt: T0, strikes: r.strikes },
      { at: now, code: r.code ?? null, signal: r.signal ?? null, limitKill: r.limitKill ?? false },
      now,
      cfg,
    );
    expect({ strikes: d.strikes, struck: d.struck, fatal: d.fatal, status: d.status }).toEqual({
      strikes: r.want.strikes,
      struck: r.want.struck,
      fatal: r.want.fatal,
      status: r.want.status,
    });
    if (r.want.restartInMs === undefined) expect(d.restartAt).toBeUndefined();
    else expect(d.restartAt! - now).toBe(r.want.restartInMs);
  });

  it('the exit seen later than it happened still holds from the start, not from now', () => {
    const d = decide(
      { lastStartAt: T0, strikes: 0 },
      { at: T0 + 10 * S, code: 1, signal: null, limitKill: false },
      T0 + 60 * S,
      cfg,
    );
    expect(d.struck).toBe(true);
    expect(d.restartAt).toBe(T0 + 3 * M);
  });

  it('other numbers from config are honoured (1 strike max, 1 s hold)', () => {
    const c = { restartHoldMs: S, strikeWindowMs: 10 * S, maxStrikes: 1 };
    expect(
      decide({ lastStartAt: T0, strikes: 0 }, { at: T0, code: 1, signal: null, limitKill: false }, T0, c).fatal,
    ).toBe(true);
    const d = decide(
      { lastStartAt: T0, strikes: 0 },
      { at: T0 + 11 * S, code: 1, signal: null, limitKill: false },
      T0 + 11 * S,
      c,
    );
    expect(d).toMatchObject({ fatal: false, struck: false, restartAt: T0 + 11 * S });
  });

  it('strikesAfterRun clears strikes once a run lasts the window', () => {
    expect(strikesAfterRun({ lastStartAt: T0, strikes: 2 }, T0 + 15 * M - 1, cfg)).toBe(2);
    expect(strikesAfterRun({ lastStartAt: T0, strikes: 2 }, T0 + 15 * M, cfg)).toBe(0);
  });
});
