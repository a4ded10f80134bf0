/**
 * Capped exponential backoff with full jitter: after n consecutive failures wait a random
 * time in [base*2^n / 2, base*2^n], never more than max. Jitter keeps a fleet that lost its
 * server together from coming back in lockstep.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

export class Backoff {
  private failures = 0;
  constructor(private readonly opts: BackoffOptions) {}

  /** Delay before the next attempt, and count this failure. */
  next(): number {
    const exp = Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    const r = (this.opts.random ?? Math.random)();
    return Math.round(exp / 2 + (exp / 2) * r);
  }

  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}
