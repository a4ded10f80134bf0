import type { Schedule } from '@aspire/agent-core/cron';
import { parseTaskLine, type LineParse } from '@aspire/agent-core/cron';

// The line grammar lives in agent-core (the server checks policy crontab lines with it too).
export { parseTaskLine, type LineParse };

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
  /**
   * A line of the crontab's managed section: written from the server's policy, so checked
   * against the host policy before each run like a server task (docs/lifecycle.md).
   */
  managed?: boolean;
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
 * design's `*\/10 * * * * echo ...`) would otherwise run its command's first word as the user.
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
