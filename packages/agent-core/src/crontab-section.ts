/**
 * The managed section of the BasicAgent's crontab (docs/lifecycle.md "Desired state — on the
 * host"): the lines between two marker comments belong to the server's policy, everything else
 * to the host. One module for reading and replacing it, so the writer (the BootAgent) and any
 * reader agree on the markers. Pure text in, text out: the caller does the atomic write.
 *
 * Inside the section each task is two lines, `# task: NAME` then the crontab line, so a hand
 * edit can be reported per task name. The BasicAgent reads the markers and the name lines as
 * ordinary comments.
 */

export const MANAGED_BEGIN =
  '# BEGIN ASPIRE MANAGED SECTION (written by the BootAgent from the server policy; edits here are replaced)';
export const MANAGED_END = '# END ASPIRE MANAGED SECTION';
const BEGIN_PREFIX = '# BEGIN ASPIRE MANAGED SECTION';
const TASK_PREFIX = '# task: ';

/** One managed periodic task as the policy gives it. */
export interface ManagedTask {
  name: string;
  user: string;
  schedule: string;
  command: string;
}

export interface CrontabSplit {
  /** Host lines before the section (all of them when there is none). */
  before: string[];
  /** Host lines after the section. */
  after: string[];
  /** The section's lines between the markers; undefined when the file has no section. */
  section: string[] | undefined;
  /** The begin marker had no end marker: the section was taken to run to the end of the file. */
  unterminated: boolean;
}

/** The crontab line of a task: `SCHEDULE USER COMMAND`. */
export function taskLine(t: ManagedTask): string {
  return `${t.schedule.trim()} ${t.user} ${t.command.trim()}`;
}

/** Whether a policy value could break out of its one line (and so write host lines). */
export function isOneLine(s: string): boolean {
  return !/[\r\n\0]/.test(s);
}

/**
 * Split a crontab into host lines and the managed section. A second section (a copy pasted by
 * hand) is folded into the first: its lines count as managed and the next write drops them.
 */
export function splitCrontab(text: string): CrontabSplit {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const before: string[] = [];
  const after: string[] = [];
  let section: string[] | undefined;
  let inside = false;
  for (const line of lines) {
    const t = line.trim();
    if (t.startsWith(BEGIN_PREFIX)) {
      inside = true;
      section ??= [];
      continue;
    }
    if (inside && t === MANAGED_END) {
      inside = false;
      continue;
    }
    if (inside) section!.push(line);
    else (section === undefined ? before : after).push(line);
  }
  return { before, after, section, unterminated: inside };
}

/**
 * 1-based numbers of the lines inside the managed section (markers excluded), by the same rule
 * as splitCrontab: what the BasicAgent treats as the server's tasks rather than the host's.
 */
export function managedLineNumbers(text: string): Set<number> {
  const out = new Set<number>();
  let inside = false;
  text.split('\n').forEach((line, i) => {
    const t = line.trim();
    if (t.startsWith(BEGIN_PREFIX)) inside = true;
    else if (inside && t === MANAGED_END) inside = false;
    else if (inside) out.add(i + 1);
  });
  return out;
}

/** The managed tasks as found in a section: name -> crontab line (a line without a name line gets `?N`). */
export function sectionTasks(section: readonly string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  let name: string | undefined;
  let anonymous = 0;
  for (const raw of section ?? []) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith(TASK_PREFIX)) {
      name = line.slice(TASK_PREFIX.length).trim();
      continue;
    }
    if (line.startsWith('#')) continue;
    out.set(name ?? `?${++anonymous}`, line);
    name = undefined;
  }
  return out;
}

/** The section's lines for these tasks, in the order given. */
export function renderSection(tasks: readonly ManagedTask[]): string[] {
  return tasks.flatMap((t) => [`${TASK_PREFIX}${t.name}`, taskLine(t)]);
}

/**
 * The crontab with its managed section replaced by these tasks (no tasks: no section at all).
 * Host lines keep their place and text; a file without a section gets it at the end.
 */
export function replaceSection(text: string, tasks: readonly ManagedTask[]): string {
  const split = splitCrontab(text);
  const section = tasks.length > 0 ? [MANAGED_BEGIN, ...renderSection(tasks), MANAGED_END] : [];
  const lines = [...split.before, ...section, ...split.after];
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

export interface SectionDrift {
  name: string;
  /** The line found (undefined: missing). */
  was: string | undefined;
  /** The line the policy wants (undefined: not wanted). */
  now: string | undefined;
}

/** How the file's managed section differs from the tasks wanted (empty: it matches). */
export function sectionDrift(text: string, tasks: readonly ManagedTask[]): SectionDrift[] {
  const split = splitCrontab(text);
  const found = sectionTasks(split.section);
  const out: SectionDrift[] = [];
  for (const t of tasks) {
    const want = taskLine(t);
    const have = found.get(t.name);
    if (have !== want) out.push({ name: t.name, was: have, now: want });
    found.delete(t.name);
  }
  for (const [name, line] of found) out.push({ name, was: line, now: undefined });
  // Same tasks but a damaged frame (no end marker, a comment changed) is repaired quietly:
  // only the exact text tells, so compare it too.
  if (out.length === 0 && split.section !== undefined && tasks.length > 0) {
    const exact = renderSection(tasks);
    if (split.unterminated || split.section.join('\n') !== exact.join('\n'))
      out.push({ name: '(section)', was: 'edited', now: 'rewritten' });
  }
  if (out.length === 0 && split.section !== undefined && tasks.length === 0)
    out.push({ name: '(section)', was: 'present', now: undefined });
  return out;
}
