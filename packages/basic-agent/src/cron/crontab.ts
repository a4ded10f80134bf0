import { Schedule } from './schedule.ts';

/** A parsed periodic task: when, as whom, what. */
export interface CronTask {
  /** Stable name: `crontab:LINE` for file lines, the server's name for server tasks. */
  name: string;
  source: 'crontab' | 'server';
  line: string;
  schedule: Schedule;
  user: string;
  command: string;
  /** Variables set by `NAME=value` lines above this task in its crontab (Vixie cron style). */
  env?: Record<string, string>;
}

export type LineParse = { ok: true; schedule: Schedule; user: string; command: string } | { ok: false; error: string };

/**
 * Whether the sixth token of a line is a day-of-week field (six schedule fields, seed 003) rather
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
 * One task line: `S M H DoM Mon DoW user command...` (seed 003), or the classic
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

/** A parsed line whose user is no account on this host becomes a refusal naming the user. */
export function checkTaskUser(p: LineParse, isAccount: AccountCheck): LineParse {
  if (!p.ok || isAccount(p.user)) return p;
  return {
    ok: false,
    error: `user ${JSON.stringify(p.user)} is not an account on this host (a task line is: schedule, user, command)`,
  };
}

export interface CrontabError {
  line: number;
  text: string;
  error: string;
}

/** `NAME=value`, `NAME = value`, `NAME="quoted value"`: an environment line, not a task. */
const ENV_LINE = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;

/** The value of an environment line: surrounding quotes (single or double) are removed, as cron does. */
function envValue(raw: string): string {
  const v = raw.trim();
  const q = v[0];
  return (q === '"' || q === "'") && v.length >= 2 && v.endsWith(q) ? v.slice(1, -1) : v;
}

/** Whether a name (or numeric uid) is an account on this host: `(u) => lookupUser(u) !== undefined`. */
export type AccountCheck = (user: string) => boolean;

/**
 * A whole crontab file: every valid line a task, every invalid one an error with its line number.
 * `NAME=value` lines set a variable for the task lines below them (later lines override).
 * The user of each line must be an account on this host: a line written without a user (the
 * seed's `*\/10 * * * * echo ...`) would otherwise run its command's first word as the user.
 */
export function parseCrontab(
  text: string,
  tz: string,
  isAccount: AccountCheck,
): { tasks: CronTask[]; errors: CrontabError[] } {
  const tasks: CronTask[] = [];
  const errors: CrontabError[] = [];
  let env: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const assignment = ENV_LINE.exec(line);
    if (assignment) {
      env = { ...env, [assignment[1]!]: envValue(assignment[2]!) };
      return;
    }
    const p = checkTaskUser(parseTaskLine(line, tz), isAccount);
    if (p.ok) {
      const task: CronTask = {
        name: `crontab:${i + 1}`,
        source: 'crontab',
        line,
        schedule: p.schedule,
        user: p.user,
        command: p.command,
      };
      if (Object.keys(env).length > 0) task.env = env;
      tasks.push(task);
    } else errors.push({ line: i + 1, text: line, error: p.error });
  });
  return { tasks, errors };
}
