/**
 * The nonces of operator signatures (`opsig`) this BasicAgent has accepted, each kept until its
 * signature's `exp`, so a captured signature cannot run its command a second time here
 * (docs/security.md "The host policy file"). Bounded: when full, the oldest is forgotten and the
 * floor rises to its `exp`; a signature expiring no later than the floor is refused, so a
 * forgotten nonce cannot come back (as the frame verifier does with frame ids).
 */

export const DEFAULT_MAX_OPERATOR_NONCES = 10_000;

export class OperatorNonceCache {
  /** Nonce -> its signature's exp (unix seconds); insertion order = arrival order. */
  private readonly seen = new Map<string, number>();
  private floor = 0;

  constructor(private readonly max = DEFAULT_MAX_OPERATOR_NONCES) {}

  /**
   * Record a verified signature's nonce. false: seen before (or possibly forgotten), refuse it.
   * `nowSec`: signatures are valid through their `exp` second, so only older ones are pruned.
   */
  accept(nonce: string, exp: number, nowSec: number): boolean {
    for (const [n, e] of this.seen) if (e < nowSec) this.seen.delete(n);
    if (this.seen.has(nonce) || exp <= this.floor) return false;
    this.seen.set(nonce, exp);
    while (this.seen.size > this.max) {
      const [oldest, e] = this.seen.entries().next().value as [string, number];
      this.seen.delete(oldest);
      this.floor = Math.max(this.floor, e);
    }
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
