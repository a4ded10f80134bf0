import { readFileSync, statSync } from 'node:fs';
import {
  type Clock,
  type HostPolicy,
  type Logger,
  managedLineNumbers,
  policyAllowsCommand,
  type TimerHandle,
} from '@aspire/agent-core';
import {
  ErrorCode,
  ErrorMessage,
  type ReplyFrame,
  type TaskAddRequest,
  type TaskResultFrame,
  type TaskRemoveRequest,
  failedReply,
} from '@aspire/protocol';
import { runCommand } from '../exec/run-command.ts';
import { cancelledByServer } from '../exec/running-commands.ts';
import type { KillEscalationOptions } from '../exec/kill-escalation.ts';
import { lookupUser } from '../host/accounts.ts';
import {
  checkTaskUser,
  parseCrontab,
  parseTaskLine,
  type AccountCheck,
  type CronTask,
  type CrontabError,
} from './crontab.ts';
import { CronScheduler, type TaskRun } from './scheduler.ts';
import { TaskStore } from './task-store.ts';

export interface PeriodicTasksDeps {
  clock: Clock;
  logger: Logger;
  crontabPath: string;
  /**
   * Seconds between looks at the crontab file (size, mtime, inode): a change is re-read without
   * waiting for SIGHUP, so a writer that cannot signal (the BootAgent's managed section written
   * while this agent starts) is picked up. 0 or absent: only at start and SIGHUP.
   */
  crontabCheckSec?: number;
  storePath: string;
  timezone: string;
  taskTimeoutSec: number;
  kill?: KillEscalationOptions;
  /**
   * The host policy: a server task (task.add) is checked when added and again before each run
   * (the file may have been tightened since). So is a line of the crontab's managed section (the
   * server's policy wrote it); the host's own crontab lines are not checked.
   */
  policy?: Readonly<HostPolicy>;
  /** Whether a task's user is an account here (crontab lines and task.add); default: NSS lookup. */
  isAccount?: AccountCheck;
  onResult(result: TaskResultFrame): void;
}

const hostAccount: AccountCheck = (user) => lookupUser(user) !== undefined;

/**
 * Periodic tasks from both sources (design.md §4): the crontab file and the server
 * (task.add/remove/list, persisted in the state dir). One scheduler runs them all.
 */
export class PeriodicTasks {
  readonly scheduler: CronScheduler;
  private crontabErrors: CrontabError[] = [];
  private serverTasks: { name: string; line: string }[] = [];
  private readonly store: TaskStore;
  /** The crontab file as last read (`size:mtime:inode`, `absent`), to see a change. */
  private crontabSeen = '';
  private watchTimer: TimerHandle | undefined;

  constructor(private readonly deps: PeriodicTasksDeps) {
    this.store = new TaskStore(deps.storePath);
    this.scheduler = new CronScheduler({
      clock: deps.clock,
      logger: deps.logger,
      onResult: deps.onResult,
      run: (task, signal) => this.runTask(task, signal),
    });
  }

  start(): void {
    this.reloadCrontab();
    const loaded = this.store.load();
    if (loaded.problem) this.deps.logger.warn({ problem: loaded.problem }, 'server task file damaged');
    this.serverTasks = [];
    for (const t of loaded.tasks) {
      const p = parseTaskLine(t.line, this.deps.timezone);
      if (p.ok) this.serverTasks.push(t);
      else this.deps.logger.warn({ task: t.name, error: p.error }, 'stored server task no longer parses; skipped');
    }
    this.applyServerTasks();
    this.scheduler.start();
    this.watchCrontab();
  }

  stop(): void {
    this.watchTimer?.cancel();
    this.watchTimer = undefined;
    this.scheduler.stop();
  }

  private crontabSignature(): string {
    try {
      const st = statSync(this.deps.crontabPath);
      return `${st.size}:${st.mtimeMs}:${st.ino}`;
    } catch {
      return 'absent';
    }
  }

  /** Re-read the crontab when the file changed since it was last read (every crontabCheckSec). */
  private watchCrontab(): void {
    const every = this.deps.crontabCheckSec ?? 0;
    if (every <= 0) return;
    this.watchTimer = this.deps.clock.setTimeout(() => {
      if (this.crontabSignature() !== this.crontabSeen) {
        this.deps.logger.info({ path: this.deps.crontabPath }, 'crontab changed on disk: re-read');
        this.reloadCrontab();
      }
      this.watchCrontab();
    }, every * 1000);
  }

  /** Re-read the crontab file (start and SIGHUP). Invalid lines are reported and skipped. */
  reloadCrontab(): CrontabError[] {
    this.crontabSeen = this.crontabSignature();
    let text = '';
    try {
      text = readFileSync(this.deps.crontabPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.deps.logger.error({ err, path: this.deps.crontabPath }, 'cannot read crontab');
      }
    }
    const { tasks, errors } = parseCrontab(text, this.deps.timezone, this.deps.isAccount ?? hostAccount);
    const managed = managedLineNumbers(text);
    for (const t of tasks) if (managed.has(Number(t.name.slice('crontab:'.length)))) t.managed = true;
    for (const e of errors) {
      this.deps.logger.warn(
        { path: this.deps.crontabPath, line: e.line, text: e.text, error: e.error },
        `crontab line ${e.line} invalid, skipped`,
      );
    }
    this.crontabErrors = errors;
    this.scheduler.setTasks('crontab', tasks);
    return errors;
  }

  async add(req: TaskAddRequest): Promise<ReplyFrame> {
    const p = checkTaskUser(parseTaskLine(req.line, this.deps.timezone), this.deps.isAccount ?? hostAccount);
    if (!p.ok) return failedReply(req.id, ErrorCode.CHANNEL_INVALID_CRON, `Invalid cron line: ${p.error}`);
    const allowed = this.deps.policy ? policyAllowsCommand(this.deps.policy, p.command, p.user) : undefined;
    if (allowed && !allowed.ok) {
      this.deps.logger.warn({ task: req.name, rule: allowed.rule }, 'task.add refused by host policy');
      return failedReply(req.id, ErrorCode.POLICY_REFUSED, allowed.message);
    }
    return this.commit(req.id, req.name, [
      ...this.serverTasks.filter((t) => t.name !== req.name),
      { name: req.name, line: req.line.trim() },
    ]);
  }

  /** Cancel the run of a periodic task going now (a `cancel` frame with `name`); false when none runs. */
  cancelRun(name: string): boolean {
    return this.scheduler.cancel(name);
  }

  async remove(req: TaskRemoveRequest): Promise<ReplyFrame> {
    if (!this.serverTasks.some((t) => t.name === req.name)) {
      return failedReply(req.id, ErrorCode.CHANNEL_NO_SUCH_TASK, `No such periodic task: ${req.name}`);
    }
    return this.commit(
      req.id,
      req.name,
      this.serverTasks.filter((t) => t.name !== req.name),
    );
  }

  /**
   * Persist the new set first and only then make it live: a write that fails (full disk) leaves
   * the old set both on disk and in the scheduler, and the server is told.
   */
  private async commit(id: string, name: string, next: { name: string; line: string }[]): Promise<ReplyFrame> {
    try {
      await this.store.save(next);
    } catch (err) {
      this.deps.logger.error({ err, path: this.deps.storePath }, 'cannot save server tasks');
      return failedReply(
        id,
        ErrorCode.EXEC_ERROR,
        `cannot save ${this.deps.storePath}: ${(err as Error).message}; tasks unchanged`,
      );
    }
    this.serverTasks = next;
    this.applyServerTasks();
    return { id, resp: 'success', retcode: 0, message: 'Normal termination', data: { name } };
  }

  list(id: string): ReplyFrame {
    return {
      id,
      resp: 'success',
      retcode: 0,
      message: 'Normal termination',
      data: { tasks: this.scheduler.list(), crontab: { path: this.deps.crontabPath, errors: this.crontabErrors } },
    };
  }

  private applyServerTasks(): void {
    const tasks: CronTask[] = [];
    for (const t of this.serverTasks) {
      const p = parseTaskLine(t.line, this.deps.timezone);
      if (p.ok)
        tasks.push({
          name: t.name,
          source: 'server',
          line: t.line,
          schedule: p.schedule,
          user: p.user,
          command: p.command,
        });
    }
    this.scheduler.setTasks('server', tasks);
  }

  private async runTask(task: CronTask, signal: AbortSignal): Promise<TaskRun> {
    const allowed =
      (task.source === 'server' || task.managed) && this.deps.policy
        ? policyAllowsCommand(this.deps.policy, task.command, task.user)
        : undefined;
    if (allowed && !allowed.ok) {
      return {
        duration_ms: 0,
        retcode: -1,
        errcode: ErrorCode.POLICY_REFUSED,
        message: allowed.message,
        output: '',
        truncated: false,
      };
    }
    const o = await runCommand(
      {
        cmd: task.command,
        user: task.user,
        ...(task.env ? { env: task.env } : {}),
        timeoutMs: this.deps.taskTimeoutSec * 1000,
        signal,
        ...(this.deps.kill ? { kill: this.deps.kill } : {}),
      },
      this.deps.clock,
    );
    if (o.kind === 'refused') {
      return { duration_ms: 0, retcode: -1, errcode: o.code, message: o.message, output: '', truncated: false };
    }
    const base = {
      duration_ms: o.durationMs,
      output: o.output,
      truncated: o.truncated,
      ...(o.truncated ? { dropped: o.droppedBytes } : {}),
    };
    if (o.kind === 'exited') return { ...base, retcode: o.exitCode };
    if (o.kind === 'aborted' && cancelledByServer(signal))
      return { ...base, retcode: -1, errcode: ErrorCode.EXEC_CANCELLED, message: ErrorMessage.EXEC_CANCELLED };
    const errcode =
      o.kind === 'timeout'
        ? ErrorCode.EXEC_TIMEOUT
        : o.kind === 'killed'
          ? ErrorCode.EXEC_KILLED
          : ErrorCode.EXEC_ERROR;
    return {
      ...base,
      retcode: -1,
      errcode,
      message:
        o.kind === 'timeout'
          ? `Execution timeout after ${this.deps.taskTimeoutSec} s`
          : `ended: ${o.kind} ${o.signal ?? ''}`.trim(),
    };
  }
}
