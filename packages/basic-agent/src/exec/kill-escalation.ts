import type { Clock, TimerHandle } from '@aspire/agent-core';

export interface KillEscalationOptions {
  /** Time between signals. */
  intervalMs: number;
  /** SIGTERMs sent before the SIGKILL (design.md §4: after the third timeout the command is forced to end). */
  terms: number;
}

export const DEFAULT_KILL_ESCALATION: KillEscalationOptions = { intervalMs: 1000, terms: 3 };

/** Sends a signal to a process group; false when the group no longer exists. */
export type GroupSignaller = (pgid: number, signal: NodeJS.Signals) => boolean;

export const signalGroup: GroupSignaller = (pgid, signal) => {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
};

/**
 * Kill a whole process group the way design.md §4 describes: SIGTERM, repeated every interval,
 * and SIGKILL after the third, so a script that traps SIGINT/SIGTERM (and its children, which
 * inherit the ignored disposition) still dies. The group, not the leader, is the target: a
 * leader that exits early may leave children holding the output pipe.
 * Escalation stops as soon as the group is gone (`gone` resolves then).
 */
export function escalateKill(
  pgid: number,
  clock: Clock,
  opts: KillEscalationOptions = DEFAULT_KILL_ESCALATION,
  signal: GroupSignaller = signalGroup,
  onSignal?: (sig: NodeJS.Signals, n: number) => void,
): { cancel(): void; readonly sent: NodeJS.Signals[]; readonly gone: Promise<void> } {
  const sent: NodeJS.Signals[] = [];
  let markGone: () => void = () => {};
  const gone = new Promise<void>((r) => (markGone = r));
  let timer: TimerHandle | undefined;
  let cancelled = false;
  const step = (n: number) => {
    if (cancelled) return;
    const sig: NodeJS.Signals = n < opts.terms ? 'SIGTERM' : 'SIGKILL';
    const alive = signal(pgid, sig);
    if (!alive) {
      markGone();
      return;
    }
    sent.push(sig);
    onSignal?.(sig, n);
    // After SIGKILL keep probing until the group is gone (a child may be mid-fork).
    timer = clock.setTimeout(() => step(n + 1), opts.intervalMs);
  };
  step(0);
  return {
    cancel() {
      cancelled = true;
      timer?.cancel();
    },
    sent,
    gone,
  };
}
