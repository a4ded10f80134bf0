import { AspireError } from '@aspire/protocol';
import {
  CronFieldError,
  FIELD_SPECS,
  type FieldSpec,
  fieldValues,
  parseTaskLine,
  Schedule,
  ScheduleError,
} from '@aspire/agent-core/cron';
import { describe, expect, it } from 'vitest';

describe('cron schedules in agent-core', () => {
  it('walks six fields (seconds first) in the given time zone', () => {
    const s = Schedule.parse(['0', '30', '2', '*', '*', 'MON-FRI']);
    const from = Date.UTC(2026, 0, 3, 0, 0, 0); // a Saturday
    expect(new Date(s.next(from) ?? 0).toISOString()).toBe('2026-01-05T02:30:00.000Z');
  });

  it('a bad field is a CronFieldError naming the field; Schedule.parse says it as a ScheduleError', () => {
    let field: unknown;
    try {
      fieldValues('foo', FIELD_SPECS[4] as FieldSpec);
    } catch (e) {
      field = e;
    }
    expect(field).toBeInstanceOf(AspireError);
    expect(field).toBeInstanceOf(CronFieldError);
    expect((field as CronFieldError).code).toBe('ECRONFIELD');
    expect((field as Error).message).toContain('month');
    for (const fields of [
      ['0', '0', '0', '*', 'foo', '*'],
      ['*', '*'],
    ]) {
      let err: unknown;
      try {
        Schedule.parse(fields);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ScheduleError);
      expect((err as ScheduleError).code).toBe('ESCHEDULE');
    }
    expect(() => Schedule.parse(['*', '*'])).toThrow('expected 6 schedule fields, got 2');
  });

  it('parseTaskLine reads schedule, user and command, or says what is wrong', () => {
    const ok = parseTaskLine('0 */5 * * * * root /usr/bin/true --flag');
    expect(ok.ok).toBe(true);
    if (ok.ok) {
      expect(ok.user).toBe('root');
      expect(ok.command).toBe('/usr/bin/true --flag');
    }
    const bad = parseTaskLine('0 99 * * * * root true');
    expect(bad.ok).toBe(false);
  });
});
