import { AspireError } from '@aspire/protocol';

/**
 * One numeric cron field (second, minute, hour, day of month, month, day of week) turned into
 * the explicit set of values it matches, so every form means the same whatever cron-parser
 * would make of it: names (`jan`, `FRI`), names in ranges (`FRI-MON`, `DEC-FEB`), wrap-around
 * ranges (`23-7/2`, `5-1`), Quartz's `a/step` (from a up to the field's end), lists. Day of week
 * runs 0-6 with 7 another name for Sunday: `1/2` is Monday, Wednesday, Friday (never Sunday),
 * `5-7` and `5-0` are Friday to Sunday, `5-1` is Friday to Monday.
 * Special forms (`L`, `W`, `#`) are not handled here; see schedule.ts.
 */
export interface FieldSpec {
  name: string;
  min: number;
  /** Highest value of the cycle (day of week: 6; 7 is accepted as Sunday). */
  max: number;
  names?: readonly string[];
  /** Accept this value as an alias of min (day of week: 7 = Sunday). */
  aliasOfMin?: number;
}

export const MONTH_NAMES = [
  'jan',
  'feb',
  'mar',
  'apr',
  'may',
  'jun',
  'jul',
  'aug',
  'sep',
  'oct',
  'nov',
  'dec',
] as const;
export const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

export const FIELD_SPECS: readonly FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day of week', min: 0, max: 6, names: DAY_NAMES, aliasOfMin: 7 },
];

export class CronFieldError extends AspireError<'ECRONFIELD'> {
  constructor(message: string) {
    super('ECRONFIELD', message);
  }
}

/** A value or a name of the field, as its number (day of week 7 becomes 0). */
export function fieldValue(token: string, spec: FieldSpec, whole: string): number {
  let n: number;
  if (/^\d+$/.test(token)) n = Number(token);
  else {
    const i = spec.names?.indexOf(token.toLowerCase() as never) ?? -1;
    if (i < 0) {
      const known = spec.names ? ` or a name (${spec.names.join(' ')})` : '';
      throw new CronFieldError(`${spec.name} "${whole}": "${token}" is not a number${known}`);
    }
    n = spec.min + i;
  }
  if (n === spec.aliasOfMin) return spec.min;
  const top = spec.aliasOfMin ?? spec.max;
  if (n < spec.min || n > top) throw new CronFieldError(`${spec.name} "${whole}": ${n} is outside ${spec.min}-${top}`);
  return n;
}

/** Every value a field matches, ascending; throws CronFieldError with a message naming the field. */
export function fieldValues(field: string, spec: FieldSpec): number[] {
  if (field === '') throw new CronFieldError(`${spec.name} is empty`);
  const out = new Set<number>();
  const span = spec.max - spec.min + 1;
  for (const part of field.split(',')) {
    const m = /^([^/-]+)(?:-([^/]+))?(?:\/(.*))?$/.exec(part);
    if (!m)
      throw new CronFieldError(
        `${spec.name} "${field}": cannot read "${part}" (expected *, a value, a range a-b, a step /n, or a list)`,
      );
    const [, from, to, stepText] = m;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1)
        throw new CronFieldError(`${spec.name} "${field}": step "${stepText}" must be a whole number of at least 1`);
      step = Number(stepText);
      if (step > span)
        throw new CronFieldError(`${spec.name} "${field}": step ${step} is wider than the field (${span} values)`);
    }
    let start: number;
    let count: number;
    if (from === '*' || from === '?') {
      if (to !== undefined) throw new CronFieldError(`${spec.name} "${field}": "${part}" is not a range`);
      start = spec.min;
      count = span;
    } else {
      start = fieldValue(from!, spec, field);
      if (to !== undefined) {
        // Day of week: a range ending at 7 (Sunday) runs up to it, as 5-7 does in every cron.
        const rawEnd = /^\d+$/.test(to) ? Number(to) : undefined;
        const end = fieldValue(to, spec, field);
        const endAtTop = rawEnd !== undefined && rawEnd === spec.aliasOfMin;
        const distance = endAtTop ? spec.max + 1 - start : (end - start + span) % span;
        count = distance + 1;
      } else count = stepText !== undefined ? spec.max - start + 1 : 1;
    }
    for (let k = 0; k < count; k += step) out.add(((start - spec.min + k) % span) + spec.min);
  }
  return [...out].sort((a, b) => a - b);
}
