import { describe, expect, it } from 'vitest';
import { MAX_TIMER_DELAY_MS, silentLogger, type Clock } from '@aspire/agent-core';
import { ManualClock } from '@aspire/testing';
import { CronScheduler, parseCrontab, parseTaskLine, Schedule, type TaskRun } from '../src/index.ts';
import { FIELD_SPECS, fieldValues } from '../src/cron/cron-field.ts';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0); // a Thursday
/** Accounts of the unit tests' "host". */
const isAccount = (u: string) => ['root', 'nobody'].includes(u);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const nexts = (fields: string, n: number, from = T0) => {
  const s = Schedule.parse(fields.split(' '), 'UTC');
  const out: string[] = [];
  let t = from;
  for (let i = 0; i < n; i++) {
    t = s.next(t)!;
    out.push(iso(t)!);
  }
  return out;
};

describe('periodic task lines (design.md §4)', () => {
  it('reads six fields with seconds first, then user and command', () => {
    const p = parseTaskLine('*/10 * * * * * root echo "hi  there" >> /tmp/x');
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.user).toBe('root');
    expect(p.command).toBe('echo "hi  there" >> /tmp/x');
    expect(p.schedule.next(T0)).toBe(T0 + 10_000);
  });

  it('accepts the classic five-field line (seconds = 0)', () => {
    const p = parseTaskLine('*/10 * * * * nobody echo ten');
    expect(p.ok && p.user).toBe('nobody');
    if (p.ok) expect(p.schedule.next(T0)).toBe(T0 + 10 * 60_000);
  });

  it('accepts the cron macros except @reboot', () => {
    const p = parseTaskLine('@hourly root /usr/bin/true');
    expect(p.ok && p.command).toBe('/usr/bin/true');
    if (p.ok) expect(p.schedule.next(T0)).toBe(T0 + 3600_000);
    expect(parseTaskLine('@reboot root x')).toMatchObject({ ok: false });
  });

  it("matches the design's examples", () => {
    expect(nexts('0 0 8-10 * * *', 3)).toEqual([
      '2026-01-01T08:00:00.000Z',
      '2026-01-01T09:00:00.000Z',
      '2026-01-01T10:00:00.000Z',
    ]);
    expect(nexts('0 0/30 8-10 * * *', 3)).toEqual([
      '2026-01-01T08:00:00.000Z',
      '2026-01-01T08:30:00.000Z',
      '2026-01-01T09:00:00.000Z',
    ]);
    // 2026-01-02 is a Friday, then Monday the 5th.
    expect(nexts('0 0 17 * * MON-FRI', 2)).toEqual(['2026-01-01T17:00:00.000Z', '2026-01-02T17:00:00.000Z']);
    expect(nexts('0 0 0 25 12 ?', 1)).toEqual(['2026-12-25T00:00:00.000Z']);
    expect(nexts('0 0 0 10 * ?', 2)).toEqual(['2026-01-10T00:00:00.000Z', '2026-02-10T00:00:00.000Z']);
    expect(nexts('0 45 4 1,10,22 * *', 2)).toEqual(['2026-01-01T04:45:00.000Z', '2026-01-10T04:45:00.000Z']);
    expect(nexts('0 0 0 * jan,feb sun', 1)).toEqual(['2026-01-04T00:00:00.000Z']);
    expect(nexts('0 0 0 L * *', 2)).toEqual(['2026-01-31T00:00:00.000Z', '2026-02-28T00:00:00.000Z']);
  });

  it('expands wrap-around ranges ("0 23-7/2,8 * * *")', () => {
    expect(fieldValues('23-7/2,8', FIELD_SPECS[2]!)).toEqual([1, 3, 5, 7, 8, 23]);
    expect(fieldValues('1-5', FIELD_SPECS[2]!)).toEqual([1, 2, 3, 4, 5]);
    expect(nexts('0 0 23-7/2,8 * * *', 6)).toEqual([
      '2026-01-01T01:00:00.000Z',
      '2026-01-01T03:00:00.000Z',
      '2026-01-01T05:00:00.000Z',
      '2026-01-01T07:00:00.000Z',
      '2026-01-01T08:00:00.000Z',
      '2026-01-01T23:00:00.000Z',
    ]);
  });

  it('W: nearest weekday, LW: last weekday of the month', () => {
    // 2026-02-15 is a Sunday -> Monday 16th; 2026-01-31 is a Saturday -> Friday 30th.
    expect(nexts('0 0 0 15W * *', 2)).toEqual(['2026-01-15T00:00:00.000Z', '2026-02-16T00:00:00.000Z']);
    expect(nexts('0 0 0 LW * *', 2)).toEqual(['2026-01-30T00:00:00.000Z', '2026-02-27T00:00:00.000Z']);
    // The 1st on a Saturday stays in the month: Monday the 3rd (2026-08-01 is a Saturday).
    expect(nexts('0 0 0 1W 8 *', 1)).toEqual(['2026-08-03T00:00:00.000Z']);
  });

  it('reports invalid lines with their line numbers and keeps the rest', () => {
    const text = [
      '# comment',
      '*/2 * * * * * root echo ok',
      '61 * * * * * root echo bad',
      '',
      '* * * * *',
      '0 0 * * * * r@@t x',
      '0 6 * * * root echo morning',
    ].join('\n');
    const { tasks, errors } = parseCrontab(text, 'UTC', isAccount);
    expect(tasks.map((t) => t.name)).toEqual(['crontab:2', 'crontab:7']);
    expect(errors.map((e) => e.line)).toEqual([3, 5, 6]);
    expect(errors[0]!.error).toMatch(/61/);
  });

  it('NAME=value lines set the environment of the task lines below them', () => {
    const text = [
      '* * * * * * root echo none',
      'MAILTO=""',
      'GREETING = "hello world"',
      '*/5 * * * * * root echo $GREETING',
      "GREETING='bye'",
      'PATH=/opt/x/bin:/usr/bin',
      '0 6 * * * root run',
    ].join('\n');
    const { tasks, errors } = parseCrontab(text, 'UTC', isAccount);
    expect(errors).toEqual([]);
    expect(tasks.map((t) => t.env)).toEqual([
      undefined,
      { MAILTO: '', GREETING: 'hello world' },
      { MAILTO: '', GREETING: 'bye', PATH: '/opt/x/bin:/usr/bin' },
    ]);
  });
});

describe('cron grammar (issue 16 item 8): Quartz/Vixie choices, table-driven', () => {
  // From T0 = Thursday 2026-01-01 00:00 UTC. 2026-01-02 is a Friday.
  const fires: [fields: string, why: string, expected: string[]][] = [
    [
      '0 0 0 * * 5-1',
      'numeric wrap range in day of week: Fri, Sat, Sun, Mon',
      ['2026-01-02', '2026-01-03', '2026-01-04', '2026-01-05', '2026-01-09'],
    ],
    [
      '0 0 0 * * FRI-MON',
      'names range wrapping the week',
      ['2026-01-02', '2026-01-03', '2026-01-04', '2026-01-05', '2026-01-09'],
    ],
    ['0 0 0 * * fri-sun', 'names range ending on Sunday', ['2026-01-02', '2026-01-03', '2026-01-04', '2026-01-09']],
    ['0 0 0 * * 5-7', '7 is Sunday at the end of a range', ['2026-01-02', '2026-01-03', '2026-01-04', '2026-01-09']],
    [
      '0 0 0 1 DEC-FEB ?',
      'month names range wrapping the year',
      ['2026-02-01', '2026-12-01', '2027-01-01', '2027-02-01'],
    ],
    ['0 0 0 1 11-2 ?', 'numeric month wrap range', ['2026-02-01', '2026-11-01', '2026-12-01', '2027-01-01']],
    [
      '0 0 0 * * 1/2',
      'day-of-week step from 1: Mon, Wed, Fri, never Sunday',
      ['2026-01-02', '2026-01-05', '2026-01-07', '2026-01-09', '2026-01-12'],
    ],
    [
      '0 0 0 * * */2',
      'day-of-week step over 0-6: Sun, Tue, Thu, Sat once each',
      ['2026-01-03', '2026-01-04', '2026-01-06', '2026-01-08', '2026-01-10'],
    ],
    ['0 0 0 L * ?', 'L: last day of the month', ['2026-01-31', '2026-02-28', '2026-03-31']],
    [
      '0 0 0 L-3 * ?',
      'L-3: three days before the last (Quartz)',
      ['2026-01-28', '2026-02-25', '2026-03-28', '2026-04-27'],
    ],
    [
      '0 0 0 L-3W * ?',
      'L-3W: nearest weekday to it (2026-03-28 is a Saturday)',
      ['2026-01-28', '2026-02-25', '2026-03-27'],
    ],
    ['0 0 0 LW * ?', 'LW: last weekday', ['2026-01-30', '2026-02-27', '2026-03-31']],
    ['0 0 0 15W * ?', '15W: nearest weekday (2026-02-15 is a Sunday)', ['2026-01-15', '2026-02-16']],
    ['0 0 0 31W * ?', '31W: only months with a 31st', ['2026-01-30', '2026-03-31', '2026-05-29']],
    [
      '0 0 0 */10 * 1',
      'Vixie: DOM starting with * means AND: 1st/11th/21st/31st that is a Monday',
      ['2026-05-11', '2026-06-01', '2026-08-31'],
    ],
    [
      '0 0 0 1 * */3',
      'Vixie: DOW starting with * means AND: the 1st when Sun, Wed or Sat',
      ['2026-02-01', '2026-03-01', '2026-04-01', '2026-07-01'],
    ],
    [
      '0 0 0 4 * 1-3',
      'Vixie: both restricted means OR: the 4th, and every Mon-Wed',
      ['2026-01-04', '2026-01-05', '2026-01-06', '2026-01-07', '2026-01-12'],
    ],
    ['0 0 0 13 * 5', 'OR: every 13th and every Friday', ['2026-01-02', '2026-01-09', '2026-01-13', '2026-01-16']],
    ['0 0 0 15 * 0-6', 'OR with every weekday: every day', ['2026-01-02', '2026-01-03', '2026-01-04']],
    ['0 0 0 ? * MON', '? leaves the days to the other field', ['2026-01-05', '2026-01-12']],
    ['0 0 0 ? * 5L', 'last Friday of the month', ['2026-01-30', '2026-02-27']],
    [
      '0 0 0 L * 5',
      'OR: the last day of the month and every Friday',
      ['2026-01-02', '2026-01-09', '2026-01-16', '2026-01-23', '2026-01-30', '2026-01-31'],
    ],
    ['0 0 0 ? * FRI#3', 'third Friday of the month', ['2026-01-16', '2026-02-20']],
    ['0 0 0 * * 7', '7 alone is Sunday', ['2026-01-04', '2026-01-11']],
    ['0 0 0 29 2 ?', 'a date years away', ['2028-02-29', '2032-02-29']],
  ];
  it.each(fires)('%s fires as expected (%s)', (fields, _why, expected) => {
    expect(nexts(fields, expected.length).map((d) => d.slice(0, 10))).toEqual(expected);
  });

  it('the Vixie AND line fires only on Mondays that are the 1st, 11th, 21st or 31st', () => {
    for (const d of nexts('0 0 0 */10 * 1', 12)) {
      const day = new Date(d);
      expect(day.getUTCDay()).toBe(1);
      expect([1, 11, 21, 31]).toContain(day.getUTCDate());
    }
  });

  it('a five-field line "* * 1/2" (classic) never fires on a Sunday', () => {
    const p = parseTaskLine('0 0 * * 1/2 root echo x');
    if (!p.ok) throw new Error(p.error);
    let t = T0;
    for (let i = 0; i < 30; i++) {
      t = p.schedule.next(t)!;
      expect(new Date(t).getUTCDay()).not.toBe(0);
    }
  });

  const refusals: [fields: string, message: RegExp][] = [
    ['0 0 0 L-32 * ?', /day of month "L-32": L-32: the offset from the last day must be 0-30/],
    ['0 0 0 L-30 2 ?', /matches no date/],
    ['0 0 0 15W * MON', /day of month "15W" with day of week "MON".*put \? in one of them/],
    ['0 0 0 L-3 * 1-5', /put \? in one of them/],
    ['0 0 0 1C * ?', /day of month "1C": the C \(calendar\) flag is not supported/],
    ['0 0 0 ? * 5C', /day of week "5C": the C \(calendar\) flag is not supported/],
    ['0 0 0 * * 8', /day of week "8": 8 is outside 0-7/],
    ['0 0 0 * 13 *', /month "13": 13 is outside 1-12/],
    ['0 0 0 * * FRI-FOO', /day of week "FRI-FOO": "FOO" is not a number or a name \(sun mon tue wed thu fri sat\)/],
    ['0 0 0 * JAN-FOO *', /month "JAN-FOO": "FOO" is not a number or a name/],
    ['0 0 L * * *', /hour "L": L, W and # are only for day of month and day of week/],
    ['? 0 0 * * *', /second "\?": \? is only for day of month and day of week/],
    ['0 0 0 * * */0', /day of week "\*\/0": step "0" must be a whole number of at least 1/],
    ['0 */61 0 * * *', /minute "\*\/61": step 61 is wider than the field/],
    ['0 0 0 1,L * ?', /day of month "1,L": L and W stand alone/],
    ['0 0 0 ? * 5#6', /day of week "5#6": #6: the occurrence must be 1-5/],
    ['0 0 0 ? * 1-5L', /day of week "1-5L": L and # stand alone with one day/],
    ['0 0 0 31 2 ?', /cannot use "0 0 0 31 2 \?": Invalid explicit day of month definition/],
    ['0 0 0 * * L-3', /day of week "L-3": L, L-n and LW are for day of month/],
    ['60 0 0 * * *', /second "60": 60 is outside 0-59/],
    ['0 0 0 0 * *', /day of month "0": 0 is outside 1-31/],
  ];
  it.each(refusals)('%s is refused with a clear message', (fields, message) => {
    const p = parseTaskLine(`${fields} root echo x`);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error).toMatch(message);
  });

  it("a crontab line without a user (its command word taken as the user) is refused with its line number; the design's C flag too", () => {
    const text = [
      '# the design writes lines without a user:',
      '* * * * * * echo hi',
      '*/10 * * * *     echo "Ten minutes ago." >> /tmp/foo.txt',
      '0 0 12 L * ? root echo x',
      '0 0 0 1C * ? root echo calendar',
      '45 11 * * 0,6 nobody echo lunch',
    ].join('\n');
    const { tasks, errors } = parseCrontab(text, 'UTC', isAccount);
    expect(tasks.map((t) => [t.name, t.user, t.command])).toEqual([
      ['crontab:4', 'root', 'echo x'],
      ['crontab:6', 'nobody', 'echo lunch'],
    ]);
    expect(errors.map((e) => [e.line, e.error])).toEqual([
      [2, 'user "echo" is not an account on this host (a task line is: schedule, user, command)'],
      [3, 'user "echo" is not an account on this host (a task line is: schedule, user, command)'],
      [5, expect.stringMatching(/C \(calendar\) flag is not supported/)],
    ]);
  });
});

describe('CronScheduler on a ManualClock', () => {
  it('fires on even seconds and never overlaps a slow run (skipped fires are reported)', async () => {
    const clock = new ManualClock(T0 + 500);
    const results: { started: number; skipped?: boolean }[] = [];
    const finishers: (() => void)[] = [];
    const s = new CronScheduler({
      clock,
      logger: silentLogger(),
      // Each run takes until the test finishes it: a "slow" task.
      run: () =>
        new Promise<TaskRun>((resolve) =>
          finishers.push(() => resolve({ duration_ms: 1, retcode: 0, output: 'x', truncated: false })),
        ),
      onResult: (r) => results.push({ started: r.started_ms!, ...(r.skipped ? { skipped: true } : {}) }),
    });
    const p = parseTaskLine('*/2 * * * * * root sleep 3');
    if (!p.ok) throw new Error(p.error);
    s.setTasks('crontab', [{ name: 't', source: 'crontab', line: 'x', ...p }]);
    s.start();
    await clock.advance(2000); // fires at +2 s: starts run 1
    expect(finishers).toHaveLength(1);
    await clock.advance(2000); // +4 s: run 1 still going -> skipped
    expect(finishers).toHaveLength(1);
    finishers[0]!();
    await clock.advance(2000); // +6 s: run 2
    expect(finishers).toHaveLength(2);
    finishers[1]!();
    await clock.advance(10);
    s.stop();
    expect(results).toEqual([{ started: T0 + 4000, skipped: true }, { started: T0 + 2000 }, { started: T0 + 6000 }]);
    expect(results.every((r) => (r.started / 1000) % 2 === 0)).toBe(true);
  });
});

describe('CronScheduler: fires far in the future (issue 16 item 1)', () => {
  /** A clock whose timers cannot hold more than 2^31-1 ms: a longer one wakes at the cap (early). */
  const cappedClock = (clock: ManualClock): Clock => ({
    now: () => clock.now(),
    monotonic: () => clock.monotonic(),
    setTimeout: (fn, ms) => clock.setTimeout(fn, Math.min(ms, MAX_TIMER_DELAY_MS)),
    sleep: (ms, signal) => clock.sleep(ms, signal),
  });
  const DAY = 86_400_000;

  const start = (clock: Clock, lines: string[]) => {
    const runs: { name: string; at: number; started: number }[] = [];
    const s = new CronScheduler({
      clock,
      logger: silentLogger(),
      run: async () => ({ duration_ms: 1, retcode: 0, output: '', truncated: false }),
      onResult: (r) => runs.push({ name: r.name, at: clock.now(), started: r.started_ms! }),
    });
    s.setTasks(
      'crontab',
      lines.map((line, i) => {
        const p = parseTaskLine(line);
        if (!p.ok) throw new Error(p.error);
        return { name: `crontab:${i + 1}`, source: 'crontab' as const, line, ...p };
      }),
    );
    s.start();
    return { s, runs };
  };

  it('a last-day-of-month line and a yearly line never run before their time on a timer that wakes early', async () => {
    const manual = new ManualClock(T0 + 1000);
    const { s, runs } = start(cappedClock(manual), ['0 0 12 L * ? root echo x', '0 0 0 1 1 * root echo yearly']);
    await manual.advance(30 * DAY); // 2026-01-31T00:00:01: the timers woke at 24.8 days and were re-armed
    expect(runs).toEqual([]);
    expect(s.list().map((t) => t.next)).toEqual(['2026-01-31T12:00:00.000Z', '2027-01-01T00:00:00.000Z']);
    await manual.advance(DAY);
    expect(runs.map((r) => [r.name, new Date(r.at).toISOString()])).toEqual([
      ['crontab:1', '2026-01-31T12:00:00.000Z'],
    ]);
    await manual.advance(333 * DAY); // 2026-12-31T00:00:01
    expect(runs.map((r) => r.name)).toEqual(Array<string>(11).fill('crontab:1'));
    await manual.advance(DAY);
    const yearly = runs.filter((r) => r.name === 'crontab:2');
    expect(yearly.map((r) => new Date(r.at).toISOString())).toEqual(['2027-01-01T00:00:00.000Z']);
    expect(runs.every((r) => r.at === r.started)).toBe(true);
    s.stop();
  });

  it('re-arms a fire whose timer wakes early, then runs it once at its time', async () => {
    const manual = new ManualClock(T0);
    const early: Clock = { ...cappedClock(manual), setTimeout: (fn, ms) => manual.setTimeout(fn, Math.ceil(ms / 2)) };
    const { s, runs } = start(early, ['0 0 0 2 1 * root echo once']);
    await manual.advance(DAY - 1);
    expect(runs).toEqual([]);
    await manual.advance(1);
    expect(runs.map((r) => r.at)).toEqual([T0 + DAY]);
    s.stop();
  });
});
