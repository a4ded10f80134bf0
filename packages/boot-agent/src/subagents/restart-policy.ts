/**
 * The restart policy: the restart hold and the 3-strike rule (docs/supervision.md "The restart
 * policy") as one pure function. What the loop does with its answer is in `abnormal-exit.ts`.
 * No clock, no I/O: the reconcile loop feeds it the history and the exit and acts on the answer.
 *
 * - Every exit the supervisor did not ask for is abnormal (a sub-agent is a daemon; it has no
 *   business exiting on its own, with code 0 or not).
 * - An abnormal exit within `strikeWindowMs` of the last start is a strike; a run that lasted
 *   the whole window clears earlier strikes first.
 * - `maxStrikes` consecutive strikes make the agent fatal: no restart until a job resets it.
 * - Otherwise it is restarted, no sooner than `restartHoldMs` after the previous start.
 */
export interface PolicyConfig {
  restartHoldMs: number;
  strikeWindowMs: number;
  maxStrikes: number;
}

export interface History {
  /** Wall ms of the last start (or adoption) of the process that exited. */
  lastStartAt: number;
  /** Consecutive strikes so far. */
  strikes: number;
}

export interface ExitInfo {
  /** Wall ms the exit was seen. */
  at: number;
  code: number | null;
  signal: string | null;
  /** Killed by us or the kernel for exceeding a limit: status `killed`. */
  limitKill: boolean;
}

export interface Decision {
  strikes: number;
  struck: boolean;
  fatal: boolean;
  /** Wall ms to restart at; undefined when fatal. */
  restartAt?: number;
  status: 'fatal' | 'killed' | 'stoped';
}

export function decide(history: History, exit: ExitInfo, now: number, cfg: PolicyConfig): Decision {
  const ranFor = Math.max(0, exit.at - history.lastStartAt);
  const struck = ranFor < cfg.strikeWindowMs;
  const strikes = struck ? history.strikes + 1 : 0;
  if (strikes >= cfg.maxStrikes) {
    return { strikes, struck, fatal: true, status: 'fatal' };
  }
  return {
    strikes,
    struck,
    fatal: false,
    restartAt: Math.max(now, history.lastStartAt + cfg.restartHoldMs),
    status: exit.limitKill ? 'killed' : 'stoped',
  };
}

/** A run as long as the strike window clears the strikes even before any exit (for reports). */
export function strikesAfterRun(history: History, now: number, cfg: PolicyConfig): number {
  return now - history.lastStartAt >= cfg.strikeWindowMs ? 0 : history.strikes;
}
