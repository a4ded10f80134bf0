/**
 * Jobs from status replies. Each one is journaled before anything else happens to it (on disk:
 * at most once per host), then run one at a time in arrival order, off the push loop so status
 * keeps flowing while an install downloads. Nothing is silently dropped: malformed jobs are
 * answered JOB_INVALID, unknown actions and sub-agent actions without a manager
 * JOB_UNSUPPORTED_ACTION; only a job with no usable id (nothing to answer under) is just logged.
 */
import {
  BOOT_AGENT_NAME,
  ErrorCode,
  ErrorMessage,
  errorMessage,
  revokeNotice,
  type ConfigJob,
  type SubAgentJob,
} from '@aspire/protocol';
import { isDiskFull } from '@aspire/agent-core';
import { policyAllowsJob, type HostPolicy } from '@aspire/agent-core';
import type { Logger } from 'pino';
import type { JobOutcome, SubAgentManager } from '../contracts.ts';
import type { JobJournal, JobRecordOptions } from '../state/job-journal.ts';
import type { VerifyOutcome } from '@aspire/protocol';
import type { PushRequests } from '../loop/push-requests.ts';
import { signatureRefusal } from './job-signature.ts';
import { preview, validateJob, type Job, type JobRefused } from './job-validation.ts';

export interface JobRunnerDeps {
  logger: Logger;
  journal: JobJournal;
  manager?: SubAgentManager;
  /** Runs a checked `config` job. */
  config: (job: ConfigJob) => Promise<JobOutcome>;
  /** Told when the queue has drained after running jobs (their results are ready to send). */
  loop?: Pick<PushRequests, 'pushSoon'>;
  /**
   * The server's signature check (docs/security.md "Signed jobs and command frames"), first step
   * after the journal's replay check. createBootAgent always wires it; unit tests of the runner may not.
   */
  verify?: (job: unknown) => VerifyOutcome;
  /**
   * The signature check of a `revoke` entry (purpose `revoke`). Without it revokes are refused:
   * an unsigned entry must never stop a job.
   */
  verifyRevoke?: (notice: unknown) => VerifyOutcome;
  /** The host policy file (docs/security.md): jobs outside it are answered POLICY_REFUSED. */
  policy?: Readonly<HostPolicy>;
  /** Runs `upgrade` jobs naming BootAgent (docs/lifecycle.md); without it they are JOB_INVALID. */
  selfUpgrade?: { handleJob(job: SubAgentJob, signal: AbortSignal, stop: AbortSignal): Promise<JobOutcome> };
}

/**
 * `signal` aborts on the BootAgent's stop or the job's revoke; `stop` only on the BootAgent's
 * stop (what must not be cut by a revoke: an upgrade's health window).
 */
export type Queued = {
  id: string;
  action: string;
  run: (signal: AbortSignal, stop: AbortSignal) => Promise<JobOutcome>;
  /** Told the final outcome (a job the BootAgent itself queued, from the desired-state policy). */
  done?: (outcome: JobOutcome) => void;
};

/** What one reply's jobs come to before the journal writes are awaited. */
interface Batch {
  writes: Promise<void>[];
  toRun: Queued[];
  answered: number;
}

export class JobRunner {
  private queue: Queued[] = [];
  private running: Promise<void> | undefined;
  private readonly ac = new AbortController();
  /** The job running now and the controller its revoke aborts. */
  private current: { id: string; action: string; revoke: AbortController } | undefined;

  constructor(private readonly d: JobRunnerDeps) {}

  /** Journal every job of a reply, then queue those that are to run. Resolves once on disk. */
  async accept(raw: readonly unknown[]): Promise<void> {
    const b: Batch = { writes: [], toRun: [], answered: 0 };
    for (const item of raw) this.acceptOne(item, b);
    const { toRun } = b;
    // Started records must be on disk before any of these jobs runs. When they cannot be written
    // (full disk), the jobs are not run: each is answered from memory with the reason.
    try {
      await Promise.all(b.writes);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const errcode = isDiskFull(e) ? ErrorCode.JOB_DISK_FULL : ErrorCode.EXEC_ERROR;
      this.d.logger.error(
        { err, jobs: toRun.map((q) => q.id) },
        'cannot write the job journal: jobs answered without running',
      );
      for (const q of toRun) {
        this.d.journal
          .answer(q.id, q.action, {
            errcode,
            message: `${errorMessage(errcode)}: cannot journal the job before running it (${e.message}); not run`,
          })
          .catch(() => undefined);
      }
      this.d.loop?.pushSoon();
      return;
    }
    for (const q of toRun) this.d.logger.info({ jobId: q.id, action: q.action }, 'job received and journaled');
    this.queue.push(...toRun);
    if (toRun.length > 0) this.pump();
    // New answers (not re-reports of old results: a server re-delivering must not set off a push storm).
    else if (b.answered > 0 && this.idle) this.d.loop?.pushSoon();
  }

  /** One job of a reply: the replay check, the signature, the validation, the route, the host policy. */
  private acceptOne(item: unknown, b: Batch): void {
    const id = (item as { id?: unknown } | null)?.id;
    if (typeof id !== 'string' || id.length === 0 || id.length > 64) {
      this.d.logger.error(
        { job: preview(item) },
        'job without a usable id (string of 1..64 chars): cannot be answered, ignored',
      );
      return;
    }
    const seen = this.d.journal.lookup(id);
    if (seen.kind === 'pending') {
      this.d.logger.info({ jobId: id }, 'job delivered again while its result is pending: not run again');
      return;
    }
    if (seen.kind === 'acked') {
      this.d.logger.warn(
        { jobId: id },
        'job delivered again after its result was acknowledged: re-reporting the recorded result, not running it',
      );
      b.writes.push(this.d.journal.reReport(seen.result));
      return;
    }
    // The signed expiry travels with the job's record, so its tombstone outlives it.
    let record: JobRecordOptions = {};
    const answer = (action: string, errcode: number, message: string) => {
      this.d.logger.warn({ jobId: id, action, errcode }, `job answered without running: ${message}`);
      b.writes.push(this.d.journal.answer(id, action, { errcode, message }, record));
      b.answered++;
    };
    const signature = this.d.verify?.(item);
    const refused = signature && signatureRefusal(this.d.journal, id, item, signature);
    if (refused) {
      // Answered (the server's subtask fails with the code) but never a tombstone: the id is
      // only the sender's word, and a flood of such ids must not push real ones out.
      record = { unverified: true };
      answer(refused.action, refused.errcode, refused.message);
      return;
    }
    if (signature?.ok) record = { expires: signature.expires };
    const checked = validateJob(item);
    if (!checked.ok) {
      answer(checked.action, checked.errcode, checked.message);
      return;
    }
    const job = checked.job;
    const routed = this.route(job);
    if (!routed.ok) {
      answer(job.action, routed.errcode, routed.message);
      return;
    }
    // The host policy step, last before a job is journaled to run: a refused job gets a
    // failed result and a `refused` event, and nothing of it runs.
    const url = job.action === 'config' ? undefined : job.url;
    const refusal = this.policyRefusal(id, job.action, url);
    if (refusal) {
      answer(job.action, ErrorCode.POLICY_REFUSED, refusal);
      return;
    }
    b.toRun.push({ id, action: job.action, run: routed.run });
    b.writes.push(this.d.journal.begin(id, job.action, record));
  }

  /** Which part runs a checked job: the config job, the BootAgent's own upgrade, the sub-agent manager; or why none. */
  private route(job: Job): { ok: true; run: Queued['run'] } | JobRefused {
    if (job.action === 'config') return { ok: true, run: () => this.d.config(job) };
    const refuse = (errcode: number, message: string): JobRefused => ({
      ok: false,
      action: job.action,
      errcode,
      message,
    });
    if (job.name.toLowerCase() === BOOT_AGENT_NAME.toLowerCase()) {
      // Only `upgrade` applies to the BootAgent itself (docs/lifecycle.md "BootAgent
      // self-upgrade"); installed as a "sub-agent" it would run a second BootAgent under the first.
      const self = this.d.selfUpgrade;
      if (job.action === 'upgrade' && self)
        return { ok: true, run: (signal, stop) => self.handleJob(job, signal, stop) };
      return refuse(
        ErrorCode.JOB_INVALID,
        `${ErrorMessage.JOB_INVALID}: ${BOOT_AGENT_NAME} is this agent, not a sub-agent: only "upgrade" applies to it${self ? '' : ' (not in this BootAgent)'}`,
      );
    }
    const manager = this.d.manager;
    if (!manager)
      return refuse(
        ErrorCode.JOB_UNSUPPORTED_ACTION,
        `${ErrorMessage.JOB_UNSUPPORTED_ACTION}: ${job.action} (no sub-agent manager in this BootAgent)`,
      );
    return { ok: true, run: (signal, stop) => manager.handleJob(job, signal, stop) };
  }

  /**
   * The `revoke` list of a status reply (docs/boot-agent.md "Revoked jobs"): each entry signed by
   * the server for this host. A running job is aborted (download, install step, command: its
   * signal) and answered JOB_REVOKED unless it finished anyway; a queued one is dropped and
   * answered; an id never received is answered JOB_REVOKED so a late delivery cannot run it; a
   * job already finished is left as it is (its result stands). Entries repeat on every reply
   * until the server has the result, so each is idempotent.
   */
  async revoke(raw: readonly unknown[]): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const item of raw) {
      const v = revokeNotice.validate(item);
      if (!v.ok) {
        this.d.logger.warn({ notice: preview(item), errors: v.errors }, 'revoke entry malformed: ignored');
        continue;
      }
      const id = v.value.id;
      const signature = this.d.verifyRevoke?.(item) ?? {
        ok: false as const,
        reason: 'no signature check for revokes in this BootAgent',
      };
      if (!signature.ok) {
        this.d.logger.warn(
          { jobId: id, reason: signature.reason },
          'revoke refused: not a valid server signature for this host; the job is not stopped',
        );
        continue;
      }
      const message = (what: string) => `${ErrorMessage.JOB_REVOKED}: ${what}`;
      if (this.current?.id === id) {
        if (!this.current.revoke.signal.aborted) {
          this.d.logger.warn(
            { jobId: id, action: this.current.action },
            'job revoked by the server while running: aborting it',
          );
          this.current.revoke.abort(new Error('revoked by the server'));
        }
        continue;
      }
      const queued = this.queue.findIndex((q) => q.id === id);
      if (queued >= 0) {
        const [q] = this.queue.splice(queued, 1);
        this.d.logger.warn({ jobId: id, action: q!.action }, 'job revoked by the server before it ran: dropped');
        writes.push(
          this.d.journal.finish(id, {
            errcode: ErrorCode.JOB_REVOKED,
            message: message(`${q!.action} revoked before it started; not run`),
          }),
        );
        continue;
      }
      if (this.d.journal.lookup(id).kind === 'new') {
        this.d.logger.warn(
          { jobId: id },
          'job revoked by the server before it arrived here: recorded, so it never runs',
        );
        writes.push(
          this.d.journal.answer(id, 'revoked', {
            errcode: ErrorCode.JOB_REVOKED,
            message: message('revoked before this host received it; not run'),
          }),
        );
      }
    }
    if (writes.length === 0) return;
    await Promise.all(writes).catch((err: unknown) =>
      this.d.logger.error({ err }, 'cannot write the job journal for a revoke; the result is kept in memory'),
    );
    if (this.idle) this.d.loop?.pushSoon();
  }

  /**
   * Queue jobs already journaled `started` (the BootAgent's own changes, jobs/local-jobs.ts):
   * they run in the one queue, so never beside a job from the server.
   */
  enqueue(items: readonly Queued[]): void {
    this.queue.push(...items);
    if (items.length > 0) this.pump();
  }

  /** The message of a host-policy refusal (action, package source), or undefined when allowed. */
  policyRefusal(id: string, action: string, url: string | undefined): string | undefined {
    if (!this.d.policy) return undefined;
    const v = policyAllowsJob(this.d.policy, action, url);
    if (v.ok) return undefined;
    this.d.journal.emit('refused', `job ${id} (${action}) ${v.message}`, {
      agent: BOOT_AGENT_NAME,
      data: { jobId: id, action, errcode: ErrorCode.POLICY_REFUSED, rule: v.rule },
    });
    return v.message;
  }

  /** Abort the job running now, drop the queue (those stay journaled as started: reported interrupted on restart), wait. */
  async stop(): Promise<void> {
    this.ac.abort(new Error('BootAgent stopping'));
    for (const q of this.queue)
      q.done?.({
        errcode: ErrorCode.JOB_INTERRUPTED,
        message: `${ErrorMessage.JOB_INTERRUPTED}: the BootAgent stopped`,
      });
    this.queue = [];
    await this.running;
  }

  /** Jobs accepted and not finished: those queued plus the one running. */
  get pending(): number {
    return this.queue.length + (this.running === undefined ? 0 : 1);
  }

  get idle(): boolean {
    return this.running === undefined && this.queue.length === 0;
  }

  private pump(): void {
    if (this.running || this.ac.signal.aborted) return;
    const next = this.queue.shift();
    if (!next) {
      this.d.loop?.pushSoon();
      return;
    }
    this.running = this.execute(next).finally(() => {
      this.running = undefined;
      this.pump();
    });
  }

  private async execute(q: Queued): Promise<void> {
    this.d.logger.info({ jobId: q.id, action: q.action }, 'job running');
    const revoke = new AbortController();
    this.current = { id: q.id, action: q.action, revoke };
    let outcome: JobOutcome;
    try {
      outcome = await q.run(AbortSignal.any([this.ac.signal, revoke.signal]), this.ac.signal);
    } catch (err) {
      outcome = { errcode: ErrorCode.EXEC_ERROR, message: `${q.action} failed: ${(err as Error).message}` };
    } finally {
      this.current = undefined;
    }
    // Left for the next start to finish (an upgrade's health window): stays journaled `started`.
    if (this.ac.signal.aborted && outcome.resumeLater) {
      q.done?.(outcome);
      this.d.logger.info(
        { jobId: q.id, action: q.action },
        `job left for the next start to finish: ${outcome.message}`,
      );
      return;
    }
    // Cut short by the BootAgent's own stop: the same answer as after a kill -9, whatever the
    // aborted step made of it (a cut download looks truncated, a killed child failed).
    if (this.ac.signal.aborted && outcome.errcode !== ErrorCode.OK) {
      outcome = {
        errcode: ErrorCode.JOB_INTERRUPTED,
        message: `${ErrorMessage.JOB_INTERRUPTED}: the BootAgent stopped while ${q.action} ran (${outcome.message}); not run again`,
      };
    } else if (revoke.signal.aborted && outcome.errcode !== ErrorCode.OK) {
      // Revoked and cut short: whatever the aborted step made of it, the answer is the revoke.
      // A job that finished anyway keeps its success (the revoke came too late).
      outcome = {
        errcode: ErrorCode.JOB_REVOKED,
        message: `${ErrorMessage.JOB_REVOKED}: ${q.action} aborted (${outcome.message}); not run again`,
      };
      this.d.journal.emit('revoked', `job ${q.id} (${q.action}) revoked by the server and aborted`, {
        agent: BOOT_AGENT_NAME,
        data: { jobId: q.id, action: q.action, errcode: ErrorCode.JOB_REVOKED },
      });
    }
    q.done?.(outcome);
    try {
      await this.d.journal.finish(q.id, outcome);
      this.d.logger.info(
        { jobId: q.id, action: q.action, errcode: outcome.errcode },
        `job finished: ${outcome.message}`,
      );
    } catch (err) {
      this.d.logger.error(
        { err, jobId: q.id },
        'job finished but its result could not be journaled; it is kept in memory and sent with the next push',
      );
    }
  }
}
