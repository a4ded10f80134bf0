import { CronDate, CronExpressionParser, type CronExpression } from 'cron-parser';

/**
 * A periodic-task schedule (seed 003 "周期任务"): six fields, seconds first. cron-parser does
 * the matching; two things the seed's examples use and cron-parser lacks are handled here:
 * - wrap-around ranges (`23-7/2` hour: 23,1,3,5,7), expanded to a list before parsing;
 * - `W` in day of month (`15W` nearest weekday to the 15th, `LW` last weekday), applied as a
 *   day filter over the schedule with day of month `*`.
 * Quartz's `C` is not supported: it is reported as an invalid line.
 */
export class Schedule {
  private constructor(
    readonly expression: string,
    private readonly base: string,
    private readonly weekday: { kind: 'nearest'; day: number } | { kind: 'last' } | undefined,
    private readonly tz: string,
  ) {}

  /** Parse six fields (seconds first); throws with a readable message. */
  static parse(fields: readonly string[], tz = 'UTC'): Schedule {
    if (fields.length !== 6) throw new Error(`expected 6 schedule fields, got ${fields.length}`);
    const ranges: [number, number][] = [[0, 59], [0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
    const f = fields.map((x, i) => expandWrapRanges(x, ranges[i]![0], ranges[i]![1]));
    let weekday: Schedule['weekday'];
    const dom = f[3]!;
    if (/W/i.test(dom)) {
      const m = /^(L|[1-9]|[12][0-9]|3[01])W$/i.exec(dom);
      if (!m) throw new Error(`day of month ${dom}: W takes one day (15W) or L (LW)`);
      weekday = m[1]!.toUpperCase() === 'L' ? { kind: 'last' } : { kind: 'nearest', day: Number(m[1]) };
      f[3] = '*';
    }
    const base = f.join(' ');
    // Parse once now so a bad line is rejected when it is read, not when it would fire.
    CronExpressionParser.parse(base, { tz, strict: false });
    return new Schedule(fields.join(' '), base, weekday, tz);
  }

  /** The first fire time strictly after `afterMs` (epoch ms), or undefined if there is none. */
  next(afterMs: number): number | undefined {
    let cursor = afterMs;
    // Bounded search: a W filter skips at most a few weeks per matching day.
    for (let i = 0; i < 3000; i++) {
      const expr: CronExpression = CronExpressionParser.parse(this.base, {
        tz: this.tz,
        currentDate: new CronDate(cursor, this.tz),
      });
      if (!expr.hasNext()) return undefined;
      const d = expr.next();
      if (!this.weekday || matchesWeekday(d, this.weekday)) return d.getTime();
      const day = new CronDate(d.getTime(), this.tz);
      day.setEndOfDay();
      cursor = day.getTime();
    }
    return undefined;
  }
}

function matchesWeekday(d: CronDate, w: { kind: 'nearest'; day: number } | { kind: 'last' }): boolean {
  const year = d.getFullYear();
  const month = d.getMonth();
  const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const dow = (day: number) => new Date(Date.UTC(year, month, day)).getUTCDay();
  let target: number;
  if (w.kind === 'last') {
    target = last;
    while (dow(target) === 0 || dow(target) === 6) target--;
  } else {
    target = Math.min(w.day, last);
    const wd = dow(target);
    // Quartz rule: the nearest weekday within the same month.
    if (wd === 6) target = target === 1 ? 3 : target - 1;
    else if (wd === 0) target = target === last ? target - 2 : target + 1;
  }
  return d.getDate() === target;
}

/**
 * `23-7/2` -> `23,1,3,5,7`: a range whose start is above its end wraps past the field's
 * maximum, as the seed's "0 23-7/2,8 * * *" example needs. Other parts are left alone.
 */
export function expandWrapRanges(field: string, min: number, max: number): string {
  return field
    .split(',')
    .map((part) => {
      const m = /^(\d+)-(\d+)(?:\/(\d+))?$/.exec(part);
      if (!m) return part;
      const a = Number(m[1]);
      const b = Number(m[2]);
      const step = m[3] ? Number(m[3]) : 1;
      if (a <= b || step < 1 || a > max || b < min) return part;
      const span = max - min + 1;
      const distance = (b - a + span) % span;
      const out: number[] = [];
      for (let k = 0; k <= distance; k += step) out.push(((a - min + k) % span) + min);
      return out.join(',');
    })
    .join(',');
}
