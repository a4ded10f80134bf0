/**
 * A value read from the database for one host by a statement a request just ran, kept for the
 * next step of the same request so that step needs no statement of its own: the credential
 * read of a status push brings the row and queue state its ingestion decides by
 * (./host-snapshot.ts), the ingestion's read tells the revocation read that nothing is revoked.
 * A value is used once and only within FRESH_MS of its read: what another node committed
 * meanwhile is seen at the host's next push, exactly as if it had been committed just after
 * this one. Never a cache across requests.
 */

/** A value older than this is not used (the same request asks within a few milliseconds). */
const FRESH_MS = 250;
/** Above this many unused values (a request that never asks), the stale ones are dropped. */
const PRUNE_AT = 10_000;

export class ReadAhead<T> {
  /** key -> value and performance.now() of its read; insertion order is age order. */
  private readonly kept = new Map<string, { at: number; value: T }>();

  keep(key: string, value: T): void {
    this.kept.delete(key);
    this.kept.set(key, { at: performance.now(), value });
    if (this.kept.size > PRUNE_AT) this.prune();
  }

  /** The value once, if it is fresh. */
  take(key: string): T | undefined {
    const k = this.kept.get(key);
    if (k === undefined) return undefined;
    this.kept.delete(key);
    return performance.now() - k.at <= FRESH_MS ? k.value : undefined;
  }

  drop(key: string): void {
    this.kept.delete(key);
  }

  /** A change made through this node that the kept values may predate. */
  clear(): void {
    this.kept.clear();
  }

  private prune(): void {
    const old = performance.now() - FRESH_MS;
    for (const [key, k] of this.kept) {
      if (k.at > old) break;
      this.kept.delete(key);
    }
  }
}
