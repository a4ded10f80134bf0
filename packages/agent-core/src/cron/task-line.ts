/**
 * One periodic-task line of the BasicAgent's crontab grammar (docs/design.md section 4
 * "Periodic tasks"): six schedule fields with seconds first, the run-as user and the command,
 * or the classic five-field line. Pure, so the server validates the periodic tasks of a
 * desired-state policy (docs/lifecycle.md "Desired state") with the same parser the agent uses.
 */
import { Schedule } from './schedule.ts';

export type LineParse = { ok: true; schedule: Schedule; user: string; command: string } | { ok: false; error: string };

/**
 * Whether the sixth token of a line is a day-of-week field (six schedule fields, design.md §4) rather
 * than the user of a classic five-field line: it starts with a digit, `*` or `?`, holds one of
 * `* ? / , #`, starts with a day name followed by nothing or a range/list/L/# mark, or is an
 * `L` form. Written to
 * also catch a bad day of week (`8`, `FRI-FOO`, `5C`), which is then refused naming the field.
 */
const DOW_FIELD = /^[\d*?]|[*?/,#]|^(sun|mon|tue|wed|thu|fri|sat)([-,#/L]|$)|^L([-W]|$)/i;

/** Six-field forms of the cron macros. */
const MACROS: Record<string, string> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@midnight': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
};

const USER_NAME = /^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/;

/**
 * One task line: `S M H DoM Mon DoW user command...` (design.md §4), or the classic
 * `M H DoM Mon DoW user command...` (seconds taken as 0). The two are told apart by the sixth
 * token: a day-of-week field means six schedule fields.
 */
export function parseTaskLine(line: string, tz = 'UTC'): LineParse {
  const tokens = line.trim().split(/\s+/);
  // `@hourly user cmd` and the other cron macros (not @reboot: there is no "boot" for a task).
  if (tokens[0]?.startsWith('@')) {
    const fields = MACROS[tokens[0].toLowerCase()];
    if (!fields)
      return {
        ok: false,
        error: `unknown macro ${JSON.stringify(tokens[0])} (known: ${Object.keys(MACROS).join(' ')})`,
      };
    return parseTaskLine(`${fields} ${line.trim().slice(tokens[0].length).trim()}`, tz);
  }
  const six = tokens[5] !== undefined && DOW_FIELD.test(tokens[5]);
  const n = six ? 6 : 5;
  if (tokens.length < n + 2) {
    return { ok: false, error: `expected ${n} schedule fields, a user and a command, got ${tokens.length} fields` };
  }
  const fields = six ? tokens.slice(0, 6) : ['0', ...tokens.slice(0, 5)];
  const user = tokens[n]!;
  if (!USER_NAME.test(user)) return { ok: false, error: `bad user name ${JSON.stringify(user)}` };
  // The command is the rest of the line as written (spacing inside it is kept).
  const command = line.trim().replace(new RegExp(`^(\\S+\\s+){${n + 1}}`), '');
  let schedule: Schedule;
  try {
    schedule = Schedule.parse(fields, tz);
  } catch (err) {
    return { ok: false, error: `bad schedule ${JSON.stringify(fields.join(' '))}: ${(err as Error).message}` };
  }
  return { ok: true, schedule, user, command };
}
