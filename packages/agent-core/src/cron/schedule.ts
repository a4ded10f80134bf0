import { CronDate, CronExpressionParser } from 'cron-parser';
import { CronFieldError, FIELD_SPECS, fieldValue, fieldValues } from './cron-field.ts';
import { AspireError } from '@aspire/protocol';

/**
 * A periodic-task schedule (design.md §4): six fields, seconds first. Each field is read
 * here into explicit values (cron-field.ts: names, name ranges, wrap-around ranges, day of week
 * 0-6 with 7 = Sunday) and cron-parser walks the calendar. Handled here on top of it:
 * - day of month `L` (last day), `L-n` (n days before the last: L-3 is the 28th of a 31-day
 *   month, as Quartz computes it), `nW` (nearest weekday to the nth, in the same month), `LW`
 *   (last weekday), `L-nW`;
 * - day of month and day of week together follow Vixie cron: when either field starts with `*`
 *   (or is `?`) a day must match both (`*\/10 * 1`: the 1st, 11th, 21st, 31st when a Monday),
 *   otherwise either (`0 11 4 * 1-3`: the 4th, and every Monday to Wednesday; `L` with a day
 *   of week too); `L-n` and `W` either-or with a day of week are refused (Quartz: use ?);
 * - refusals say which field and why. Quartz's `C` is refused as not supported.
 * Day of week keeps cron-parser's `5L` (last Friday) and `5#3` (third Friday).
 */
type DayOfMonth =
  | { kind: 'any' }
  | { kind: 'values'; days: ReadonlySet<number> }
  | { kind: 'last'; offset: number; weekday: boolean }
  | { kind: 'nearestWeekday'; day: number };

export class ScheduleError extends AspireError<'ESCHEDULE'> {
  constructor(message: string) {
    super('ESCHEDULE', message);
  }
}

export class Schedule {
  private constructor(
    readonly expression: string,
    /** What cron-parser walks. */
    private readonly base: string,
    /** Day-of-month test applied to cron-parser's candidates (undefined: none needed). */
    private readonly dayFilter: DayOfMonth | undefined,
    private readonly tz: string,
  ) {}

  /** Parse six fields (seconds first); throws with a readable message naming the field. */
  static parse(fields: readonly string[], tz = 'UTC'): Schedule {
    if (fields.length !== 6) throw new ScheduleError(`expected 6 schedule fields, got ${fields.length}`);
    try {
      return Schedule.build(fields, tz);
    } catch (err) {
      if (err instanceof CronFieldError || err instanceof ScheduleError) throw new ScheduleError(err.message);
      throw new ScheduleError(`cannot use "${fields.join(' ')}": ${(err as Error).message}`);
    }
  }

  private static build(fields: readonly string[], tz: string): Schedule {
    for (let i = 0; i < 6; i++) {
      const f = fields[i]!;
      const spec = FIELD_SPECS[i]!;
      const letters = withoutNames(f, spec.names);
      if (i === 3 || i === 5) {
        if (/C/i.test(letters)) throw new ScheduleError(`${spec.name} "${f}": the C (calendar) flag is not supported`);
        continue;
      }
      if (f.includes('?')) throw new ScheduleError(`${spec.name} "${f}": ? is only for day of month and day of week`);
      if (/[LW#]/i.test(letters))
        throw new ScheduleError(`${spec.name} "${f}": L, W and # are only for day of month and day of week`);
    }
    const list = (i: number) => {
      const f = fields[i]!;
      return f === '*' ? '*' : fieldValues(f, FIELD_SPECS[i]!).join(',');
    };
    const [sec, min, hour, month] = [list(0), list(1), list(2), list(4)];
    const domText = fields[3]!;
    const dowText = fields[5]!;
    const dom = readDayOfMonth(domText);
    const dow = readDayOfWeek(dowText);
    const domAny = dom.kind === 'any';
    const dowAny = dow === '*';
    // Vixie cron: a field starting with * (or ?) leaves the days to the other field (AND).
    const both = /^[*?]/.test(domText) || /^[*?]/.test(dowText);
    let domForParser = '*';
    let dowForParser = dow;
    let filter: DayOfMonth | undefined;
    if (domAny) {
      /* day of week alone (or nothing) decides */
    } else if (dowAny) {
      if (dom.kind === 'values') domForParser = [...dom.days].join(',');
      else filter = dom;
    } else if (both) {
      filter = dom;
    } else if (dom.kind === 'last' && dom.offset === 0 && !dom.weekday) {
      domForParser = 'L'; // the last day or a listed weekday: cron-parser's either-or
    } else if (dom.kind === 'values') {
      // Neither starts with *: a day matching either runs. A field covering every day makes every
      // day match (cron-parser would take a full list as "unrestricted" and use the other alone).
      const everyDay = dom.days.size === 31 || dow.split(',').length === 7;
      domForParser = everyDay ? '*' : [...dom.days].join(',');
      if (everyDay) dowForParser = '*';
    } else {
      throw new ScheduleError(
        `day of month "${domText}" with day of week "${dowText}": ${domText} cannot be either-or with a day of week; put ? in one of them (Quartz)`,
      );
    }
    const base = [sec, min, hour, domForParser, month, dowForParser].join(' ');
    // Parse once now so a bad line is rejected when it is read, not when it would fire.
    CronExpressionParser.parse(base, { tz, strict: false });
    const s = new Schedule(fields.join(' '), base, filter, tz);
    if (s.next(Date.UTC(2000, 0, 1)) === undefined) {
      throw new ScheduleError(`"${fields.join(' ')}" matches no date`);
    }
    return s;
  }

  /** The first fire time strictly after `afterMs` (epoch ms), or undefined if there is none. */
  next(afterMs: number): number | undefined {
    let cursor = afterMs;
    // Bounded search: a day filter rejects at most a few years of candidate days.
    for (let i = 0; i < 4000; i++) {
      let d: CronDate;
      try {
        const expr = CronExpressionParser.parse(this.base, { tz: this.tz, currentDate: new CronDate(cursor, this.tz) });
        if (!expr.hasNext()) return undefined;
        d = expr.next();
      } catch {
        return undefined;
      }
      if (!this.dayFilter || matchesDay(d, this.dayFilter)) return d.getTime();
      const day = new CronDate(d.getTime(), this.tz);
      day.setEndOfDay();
      cursor = day.getTime();
    }
    return undefined;
  }
}

function readDayOfMonth(f: string): DayOfMonth {
  if (f === '*' || f === '?') return { kind: 'any' };
  const bad = (why: string) => new ScheduleError(`day of month "${f}": ${why}`);
  const last = /^L(?:-(\d+))?(W)?$/i.exec(f);
  if (last) {
    const offset = last[1] === undefined ? 0 : Number(last[1]);
    if (offset > 30) throw bad(`L-${offset}: the offset from the last day must be 0-30`);
    return { kind: 'last', offset, weekday: last[2] !== undefined };
  }
  const w = /^(\d+)W$/i.exec(f);
  if (w) {
    const day = Number(w[1]);
    if (day < 1 || day > 31) throw bad(`${day}W: the day must be 1-31`);
    return { kind: 'nearestWeekday', day };
  }
  if (/[LW]/i.test(f)) throw bad('L and W stand alone in day of month: L, L-3, LW, L-3W, 15W');
  if (f.includes('#')) throw bad('# is for day of week (5#3: the third Friday)');
  if (f.includes('?')) throw bad('? stands alone');
  return { kind: 'values', days: new Set(fieldValues(f, FIELD_SPECS[3]!)) };
}

/** Day of week for cron-parser: `*`, an explicit list, `nL` (last such day) or `n#k` (kth such day). */
function readDayOfWeek(f: string): string {
  if (f === '*' || f === '?') return '*';
  const spec = FIELD_SPECS[5]!;
  const special = /^([a-z]+|\d+)(L|#(\d+))$/i.exec(f);
  if (special) {
    const day = fieldValue(special[1]!, spec, f);
    if (special[3] !== undefined) {
      const k = Number(special[3]);
      if (k < 1 || k > 5) throw new ScheduleError(`day of week "${f}": #${k}: the occurrence must be 1-5`);
      return `${day}#${k}`;
    }
    return `${day}L`;
  }
  if (/^L/i.test(f))
    throw new ScheduleError(
      `day of week "${f}": L, L-n and LW are for day of month; in day of week L follows one day (5L: the last Friday)`,
    );
  if (/[L#W]/i.test(withoutNames(f, spec.names))) {
    throw new ScheduleError(
      `day of week "${f}": L and # stand alone with one day (5L: the last Friday, 5#3: the third Friday)`,
    );
  }
  if (f.includes('?')) throw new ScheduleError(`day of week "${f}": ? stands alone`);
  return fieldValues(f, spec).join(',');
}

/** The field with its names (jan, fri) taken out, to look for special letters in the rest. */
function withoutNames(f: string, names: readonly string[] | undefined): string {
  return names ? f.replace(/[a-z]{3}/gi, (n) => (names.includes(n.toLowerCase()) ? '' : n)) : f;
}

function matchesDay(d: CronDate, rule: DayOfMonth): boolean {
  const year = d.getFullYear();
  const month = d.getMonth();
  const date = d.getDate();
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const dow = (day: number) => new Date(Date.UTC(year, month, day)).getUTCDay();
  const nearestWeekday = (day: number) => {
    // Quartz rule: the nearest weekday within the same month.
    const wd = dow(day);
    if (wd === 6) return day === 1 ? 3 : day - 1;
    if (wd === 0) return day === lastDay ? day - 2 : day + 1;
    return day;
  };
  switch (rule.kind) {
    case 'any':
      return true;
    case 'values':
      return rule.days.has(date);
    case 'nearestWeekday':
      return rule.day <= lastDay && date === nearestWeekday(rule.day);
    case 'last': {
      const target = lastDay - rule.offset;
      if (target < 1) return false;
      return date === (rule.weekday ? nearestWeekday(target) : target);
    }
  }
}
