import { writeJsonAtomic } from '@aspire/agent-core';

/**
 * One JSON state file, one writer. Writes run one after another, each atomic; the value is taken
 * when a write starts, so a burst of changes while a write is running costs one more write, not
 * one per change. A failed write (full disk) rejects its callers but never blocks later writes.
 */
export class SerialWriter {
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;

  constructor(private readonly path: string) {}

  write(snapshot: () => unknown): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.chain
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return writeJsonAtomic(this.path, snapshot());
      });
    this.queued = next;
    this.chain = next;
    return next;
  }

  /** Resolves (never rejects) when every write asked for so far has finished. */
  flush(): Promise<void> {
    return this.chain.catch(() => undefined);
  }
}
