/**
 * A token bucket per agent route: a fleet coming back after a server restart is answered 429
 * with Retry-After (the BootAgent honours it) instead of queueing until everything times out.
 * Checked on onRequest, before the body is read, so a refused request costs almost nothing.
 */
import type { Clock } from '@aspire/agent-core';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSec: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.last = clock.monotonic();
  }

  /** Take one token: 0 when allowed, else the milliseconds until one is available. */
  take(): number {
    const now = this.clock.monotonic();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSec);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.perSec) * 1000);
  }
}
