/**
 * A periodic job on an injected Clock: runs fn every intervalMs, never two at once (a slow
 * run delays the next instead of piling up), never rejects (errors are logged), and can be
 * run immediately with trigger().
 *
 * fn is told why it runs: 'timer' (the period came round) or 'trigger' (asked for now). In a
 * cluster the timed passes are claimed once per period across the nodes (app.ts sweepGate),
 * while a triggered pass (e.g. a task just created on this node) runs here at once.
 */
import type { Clock, TimerHandle } from '@aspire/agent-core';
import type { Logger } from 'pino';

export type PeriodicReason = 'timer' | 'trigger';

export class Periodic {
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private again = false;

  constructor(
    private readonly name: string,
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly fn: (reason: PeriodicReason) => Promise<void>,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(this.intervalMs, 'timer');
  }

  /** Run now (or right after the run in progress). */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.timer?.cancel();
    void this.run('trigger');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }

  private schedule(ms: number, reason: PeriodicReason): void {
    this.timer?.cancel();
    this.timer = this.clock.setTimeout(() => void this.run(reason), ms);
  }

  private async run(reason: PeriodicReason): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = this.fn(reason).catch((err: unknown) =>
      this.log.error({ err, job: this.name }, 'periodic job failed'),
    );
    await this.running;
    this.running = undefined;
    if (this.stopped) return;
    if (this.again) {
      this.again = false;
      this.schedule(0, 'trigger');
    } else this.schedule(this.intervalMs, 'timer');
  }
}
