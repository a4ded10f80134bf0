/**
 * At most `concurrency` commands run at once; up to `queueMax` more wait their turn in
 * arrival order; beyond that a command is refused at once (EXEC_BUSY) instead of piling up
 * unbounded memory and answering long after the caller gave up.
 */
export class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly concurrency: number,
    readonly queueMax: number,
  ) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Run fn when a slot is free; undefined when the queue is full (refused, fn not called). */
  async run<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queueMax) return { ok: false };
      await new Promise<void>((r) => this.waiting.push(r));
    } else {
      this.running++;
    }
    try {
      return { ok: true, value: await fn() };
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter; running stays the same.
      if (next) next();
      else this.running--;
    }
  }
}
