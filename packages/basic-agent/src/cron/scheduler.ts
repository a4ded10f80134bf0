import type { Clock, Logger, TimerHandle } from '@aspire/agent-core';
import type { TaskResultFrame } from '@aspire/protocol';
import type { CronTask } from './crontab.ts';
import { CancelledByServer } from '../exec/running-commands.ts';

/** What one run of a task produced (TaskResultFrame without the method). */
export type TaskRun = Omit<TaskResultFrame, 'method' | 'name' | 'started'> & { started_ms?: number };

export interface SchedulerDeps {
  clock: Clock;
  logger: Logger;
  /** Runs the task's command; never rejects. */
  run(task: CronTask, signal: AbortSignal): Promise<TaskRun>;
  /** Every result (runs and skipped fires), in order. */
  onResult(result: TaskResultFrame): void;
  /** Results kept per task for task.list. */
  keepResults?: number;
}

interface Entry {
  task: CronTask;
  timer?: TimerHandle;
  running: boolean;
  /** The run going now: a `cancel` frame aborts it (reason CancelledByServer). */
  run?: AbortController | undefined;
  nextAt?: number | undefined;
  lastResults: TaskResultFrame[];
  skipped: number;
}

/**
 * Fires each task at its schedule on the injected clock. A task never overlaps itself: a fire
 * that comes while the previous run is still going is not started, it is reported as a
 * `skipped` result. Late wake-ups (a suspended host, a busy loop) do not replay missed fires:
 * the next fire is computed from now.
 */
export class CronScheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly abort = new AbortController();
  private started = false;

  constructor(private readonly deps: SchedulerDeps) {}

  start(): void {
    this.started = true;
    for (const e of this.entries.values()) this.arm(e);
  }

  /** Stop firing; running commands are killed (their group gets the kill escalation). */
  stop(): void {
    this.started = false;
    this.abort.abort(new Error('scheduler stopped'));
    for (const e of this.entries.values()) e.timer?.cancel();
  }

  /** Replace the tasks of one source, keeping the run state of tasks whose line did not change. */
  setTasks(source: CronTask['source'], tasks: CronTask[]): void {
    const wanted = new Map(tasks.map((t) => [t.name, t]));
    for (const [name, e] of this.entries) {
      if (e.task.source !== source) continue;
      const t = wanted.get(name);
      if (!t || t.line !== e.task.line) {
        e.timer?.cancel();
        this.entries.delete(name);
      }
    }
    for (const t of tasks) {
      if (this.entries.has(t.name)) continue;
      const e: Entry = { task: t, running: false, lastResults: [], skipped: 0 };
      this.entries.set(t.name, e);
      if (this.started) this.arm(e);
    }
  }

  list(): {
    name: string;
    source: string;
    line: string;
    user: string;
    command: string;
    next?: string;
    running: boolean;
    skipped: number;
    last?: TaskResultFrame;
  }[] {
    return [...this.entries.values()].map((e) => ({
      name: e.task.name,
      source: e.task.source,
      line: e.task.line,
      user: e.task.user,
      command: e.task.command,
      ...(e.nextAt !== undefined ? { next: new Date(e.nextAt).toISOString() } : {}),
      running: e.running,
      skipped: e.skipped,
      ...(e.lastResults.length ? { last: e.lastResults[e.lastResults.length - 1] } : {}),
    }));
  }

  /**
   * Cancel the run of a task going now (a `cancel` frame): its process group is killed as on a
   * timeout and its result says EXEC_CANCELLED. The schedule is kept. False when not running.
   */
  cancel(name: string): boolean {
    const e = this.entries.get(name);
    if (!e?.running || !e.run || e.run.signal.aborted) return false;
    e.run.abort(new CancelledByServer(`periodic task ${name}`));
    return true;
  }

  results(name: string): TaskResultFrame[] {
    return [...(this.entries.get(name)?.lastResults ?? [])];
  }

  /** Arm the task's next fire after now, or re-arm for `at` when a wake-up came before it. */
  private arm(e: Entry, at = e.task.schedule.next(this.deps.clock.now())): void {
    e.timer?.cancel();
    e.nextAt = at;
    if (at === undefined) return;
    e.timer = this.deps.clock.setTimeout(() => this.fire(e, at), at - this.deps.clock.now());
  }

  private fire(e: Entry, at: number): void {
    if (!this.started || this.entries.get(e.task.name) !== e) return;
    // A task runs only once its time has come: a timer that wakes early (a platform timer that
    // cannot hold the delay, the wall clock stepped back) waits out the rest.
    if (this.deps.clock.now() < at) {
      this.arm(e, at);
      return;
    }
    // Arm the next fire first, so a long run never delays the schedule.
    this.arm(e);
    if (e.running) {
      e.skipped++;
      this.record(e, {
        method: 'task.result',
        name: e.task.name,
        started: Math.floor(at / 1000),
        started_ms: at,
        duration_ms: 0,
        retcode: 0,
        output: '',
        truncated: false,
        skipped: true,
      });
      return;
    }
    e.running = true;
    const run = new AbortController();
    e.run = run;
    void this.deps
      .run(e.task, AbortSignal.any([this.abort.signal, run.signal]))
      .then((r) =>
        this.record(e, {
          method: 'task.result',
          name: e.task.name,
          started: Math.floor(at / 1000),
          started_ms: at,
          ...r,
        }),
      )
      .catch((err: unknown) => this.deps.logger.error({ err, task: e.task.name }, 'task run failed unexpectedly'))
      .finally(() => {
        e.running = false;
        if (e.run === run) e.run = undefined;
      });
  }

  private record(e: Entry, r: TaskResultFrame): void {
    e.lastResults.push(r);
    const keep = this.deps.keepResults ?? 10;
    if (e.lastResults.length > keep) e.lastResults.splice(0, e.lastResults.length - keep);
    try {
      this.deps.onResult(r);
    } catch (err) {
      this.deps.logger.error({ err }, 'task result sink failed');
    }
  }
}
