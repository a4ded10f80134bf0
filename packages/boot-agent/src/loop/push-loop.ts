/**
 * The status push schedule: first round at once, then every `step` seconds; at most one round
 * in flight (a tick that finds one running is skipped); when a round fails on every server,
 * jittered backoff capped at the step, stretched to honour Retry-After; a round never rejects.
 * Time comes from the injected Clock, so unit tests drive it with ManualClock.
 */
import { Backoff, type Clock, type TimerHandle } from '@aspire/agent-core';
import type { Logger } from 'pino';
import type { PushRequests } from './push-requests.ts';

export type RoundResult =
  | { kind: 'ok' }
  /** retryAfterMs: the longest Retry-After any server asked for; slowDown: a server refused (4xx). */
  | { kind: 'failed'; retryAfterMs?: number; slowDown?: boolean };

export interface PushLoopDeps {
  clock: Clock;
  logger: Logger;
  backoff?: Backoff;
}

/**
 * What the loop runs, given at start(): the loop is made before the job runner (which holds it
 * as PushRequests) and the round that feeds the runner is made after both.
 */
export interface PushRun {
  /** Current step in seconds (a config job may change it between rounds). */
  stepSec: () => number;
  /** One round: build the body, try the servers in order, handle the reply. */
  round: (signal: AbortSignal) => Promise<RoundResult>;
}

/** Longest Retry-After honoured; a server asking for more is waited on for this long. */
export const MAX_RETRY_AFTER_MS = 3_600_000;
export const BACKOFF_BASE_MS = 1000;
/** An early push (results ready) comes at least this long after the previous round ended. */
export const EARLY_PUSH_MIN_GAP_MS = 1000;

export class PushLoop implements PushRequests {
  private timer: TimerHandle | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly ac = new AbortController();
  private stopped = true;
  private readonly backoff: Backoff;
  /** Monotonic ms when the next round is due (for step changes). */
  private dueAt = 0;
  private lastRoundEnd = 0;
  private soon = false;
  /** Set synchronously when a round starts (inFlight is assigned only after its first await). */
  private roundActive = false;
  /** Set by start(); this placeholder never runs (every path checks `stopped` first). */
  private run: PushRun = { stepSec: () => 1, round: async () => ({ kind: 'failed' }) };
  rounds = 0;
  failures = 0;

  constructor(private readonly deps: PushLoopDeps) {
    this.backoff = deps.backoff ?? new Backoff({ baseMs: BACKOFF_BASE_MS, maxMs: 24 * 3600_000 });
  }

  /** Start pushing (first round at once). Before start, and after stop, requests change nothing. */
  start(run: PushRun): void {
    if (!this.stopped) return;
    this.run = run;
    this.stopped = false;
    this.schedule(0);
  }

  /** Cancel the timer, abort the round in flight and wait for it to settle. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.ac.abort(new Error('push loop stopped'));
    await this.inFlight;
  }

  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  /**
   * Something worth telling the server is ready (job results): push now rather than at the end
   * of the step. A round in flight is followed at once by another; while backing off (servers
   * away) nothing changes: the backoff decides.
   */
  pushSoon(): void {
    if (this.stopped || this.backoff.attempts > 0) return;
    if (this.roundActive) {
      this.soon = true;
      return;
    }
    const sinceLast = this.deps.clock.monotonic() - this.lastRoundEnd;
    const wait = this.rounds === 0 ? 0 : Math.max(0, EARLY_PUSH_MIN_GAP_MS - sinceLast);
    if (this.deps.clock.monotonic() + wait < this.dueAt) this.schedule(wait);
  }

  /** The step changed: the next round is due one new step after the last one ended, if sooner. */
  stepChanged(): void {
    if (this.stopped || this.roundActive || this.backoff.attempts > 0) return;
    const due = this.lastRoundEnd + this.run.stepSec() * 1000;
    if (due < this.dueAt) this.schedule(Math.max(0, due - this.deps.clock.monotonic()));
  }

  private schedule(ms: number): void {
    this.timer?.cancel();
    this.dueAt = this.deps.clock.monotonic() + ms;
    this.timer = this.deps.clock.setTimeout(() => this.tick(), ms);
  }

  private tick(): void {
    if (this.stopped || this.roundActive) return;
    this.roundActive = true;
    this.inFlight = this.runRound().finally(() => {
      this.inFlight = undefined;
    });
  }

  private async runRound(): Promise<void> {
    let r: RoundResult;
    try {
      r = await this.run.round(this.ac.signal);
    } catch (err) {
      this.deps.logger.error({ err }, 'status round failed unexpectedly');
      r = { kind: 'failed' };
    }
    this.rounds++;
    this.roundActive = false;
    this.lastRoundEnd = this.deps.clock.monotonic();
    if (this.stopped) return;
    const stepMs = this.run.stepSec() * 1000;
    const soon = this.soon;
    this.soon = false;
    if (r.kind === 'ok') {
      this.backoff.reset();
      this.schedule(soon ? Math.min(stepMs, EARLY_PUSH_MIN_GAP_MS) : stepMs);
      return;
    }
    this.failures++;
    let delay = Math.min(this.backoff.next(), stepMs);
    if (r.slowDown) delay = Math.max(delay, stepMs);
    if (r.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(r.retryAfterMs, MAX_RETRY_AFTER_MS));
    this.deps.logger.warn(
      { retryInMs: delay, failures: this.backoff.attempts },
      'status push failed on every server; retrying',
    );
    this.schedule(delay);
  }
}
