/**
 * The `;` in environment values (docs/supervision.md "Environment"). The design writes a PATH
 * as `"PATH": "/usr/bin;/usr/local/bin"`, while a Linux process reads `:` as PATH's list
 * separator: passed on as written, that PATH would name one directory that does not exist.
 * The rule, for job `envs` and the run spec's `env` alike:
 *  - a list variable (the name is `PATH` or ends in `PATH`: LD_LIBRARY_PATH, PYTHONPATH, ...)
 *    whose value holds `;` and no `:` is the design's list: each `;` becomes `:` (and the
 *    change is named in the log);
 *  - a list variable holding both `;` and `:` is refused: which one separates is a guess;
 *  - any other variable keeps `;` as a literal character (the agent is spawned with argv and
 *    an environment, never through a shell, so `;` there runs nothing).
 */

export interface EnvRuleResult {
  env: Record<string, string>;
  /** What was rewritten, one line each (`PATH: ';' read as the list separator ':'`). */
  notes: string[];
  /** What was refused, one line each. */
  problems: string[];
}

export function isListVariable(name: string): boolean {
  return /PATH$/.test(name);
}

export function applyEnvRule(env: Readonly<Record<string, string>>, where: string): EnvRuleResult {
  const out: Record<string, string> = {};
  const notes: string[] = [];
  const problems: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (!isListVariable(k) || !v.includes(';')) {
      out[k] = v;
      continue;
    }
    if (v.includes(':')) {
      problems.push(
        `${where}.${k}: ${JSON.stringify(v)} mixes ';' and ':' as list separators; write the list with ':' (a ';' alone is read as ':')`,
      );
      out[k] = v;
      continue;
    }
    out[k] = v.split(';').join(':');
    notes.push(`${where}.${k}: ';' read as the list separator ':' (${JSON.stringify(out[k])})`);
  }
  return { env: out, notes, problems };
}
