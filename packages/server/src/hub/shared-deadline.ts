/**
 * One timer for the requests of a fan-out, which all have the same deadline: 10,000 requests
 * otherwise arm (and cancel) 10,000 platform timers, each several objects that outlive a young
 * GC. The deadline counts from when the fan-out began; a request answered leaves the set, and
 * the timer goes when the set is empty.
 */
import type { Clock, TimerHandle } from '@aspire/agent-core';

export class SharedDeadline {
  private readonly due = new Set<() => void>();
  private timer: TimerHandle | undefined;
  private readonly end: number;

  constructor(
    private readonly clock: Clock,
    /** The deadline, ms from now. */
    readonly ms: number,
  ) {
    this.end = clock.monotonic() + ms;
  }

  /** Run onTimeout at the deadline unless cancelled first. */
  add(onTimeout: () => void): TimerHandle {
    this.due.add(onTimeout);
    this.timer ??= this.clock.setTimeout(() => this.fire(), Math.max(0, this.end - this.clock.monotonic()));
    return {
      cancel: () => {
        this.due.delete(onTimeout);
        if (this.due.size === 0) this.stop();
      },
    };
  }

  private stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private fire(): void {
    this.timer = undefined;
    const all = [...this.due];
    this.due.clear();
    for (const f of all) f();
  }
}
