/**
 * Sub-agent changes the BootAgent asks of itself to converge to the server's desired-state
 * policy (docs/lifecycle.md "Desired state — on the host"). They take the path of the server's
 * jobs after the signature step (the policy document was verified as a whole): the same
 * validation (job-validation.ts), the host policy file, the journal (`started` on disk before
 * they run, so a change cut short by kill -9 is reported interrupted and never run twice), and
 * the one queue of the JobRunner, so a policy change never interleaves with a job from the server.
 */
import { isDiskFull } from '@aspire/agent-core';
import { BOOT_AGENT_NAME, ErrorCode, ErrorMessage, errorMessage, type SubAgentJob } from '@aspire/protocol';
import type { Logger } from 'pino';
import type { JobOutcome, SubAgentManager } from '../contracts.ts';
import type { JobJournal } from '../state/job-journal.ts';
import type { JobRunner, Queued } from './job-runner.ts';
import { validateSubAgentJob } from './job-validation.ts';

/** One change: a journal id unique to it, and the sub-agent job it runs. */
export interface LocalJob {
  id: string;
  job: SubAgentJob;
}

export interface LocalJobDeps {
  runner: JobRunner;
  journal: JobJournal;
  manager: SubAgentManager | undefined;
  logger: Logger;
}

/** Journal and queue the changes; resolves once journaled, with one outcome promise per change. */
export async function acceptLocalJobs(d: LocalJobDeps, items: readonly LocalJob[]): Promise<Promise<JobOutcome>[]> {
  const outcomes: Promise<JobOutcome>[] = [];
  const toRun: Queued[] = [];
  const writes: Promise<void>[] = [];
  for (const { id, job } of items) {
    const answer = (errcode: number, message: string) => {
      writes.push(d.journal.answer(id, job.action, { errcode, message }));
      outcomes.push(Promise.resolve({ errcode, message }));
    };
    const v = validateSubAgentJob(job);
    const manager = d.manager;
    if (d.journal.lookup(id).kind !== 'new') {
      outcomes.push(
        Promise.resolve({ errcode: ErrorCode.JOB_INVALID, message: `change id ${id} already used; not run` }),
      );
    } else if (!v.ok) answer(v.errcode, v.message);
    else if (v.job.name.toLowerCase() === BOOT_AGENT_NAME.toLowerCase())
      answer(ErrorCode.JOB_INVALID, `${ErrorMessage.JOB_INVALID}: ${BOOT_AGENT_NAME} is not a sub-agent`);
    else if (!manager)
      answer(ErrorCode.JOB_UNSUPPORTED_ACTION, `${ErrorMessage.JOB_UNSUPPORTED_ACTION}: no sub-agent manager`);
    else {
      const refusal = d.runner.policyRefusal(id, job.action, job.url);
      if (refusal) {
        answer(ErrorCode.POLICY_REFUSED, refusal);
        continue;
      }
      const checked = v.job;
      let done: (o: JobOutcome) => void = () => undefined;
      outcomes.push(
        new Promise<JobOutcome>((resolve) => {
          done = resolve;
        }),
      );
      toRun.push({ id, action: job.action, run: (signal, stop) => manager.handleJob(checked, signal, stop), done });
      writes.push(d.journal.begin(id, job.action));
    }
  }
  try {
    await Promise.all(writes);
  } catch (err) {
    // Not journaled, not run: a change must never run without its `started` record on disk.
    const e = err as NodeJS.ErrnoException;
    const errcode = isDiskFull(e) ? ErrorCode.JOB_DISK_FULL : ErrorCode.EXEC_ERROR;
    const message = `${errorMessage(errcode)}: cannot journal the change before running it (${e.message}); not run`;
    d.logger.error({ err, jobs: toRun.map((q) => q.id) }, 'cannot write the job journal: policy changes not run');
    for (const q of toRun) {
      d.journal.answer(q.id, q.action, { errcode, message }).catch(() => undefined);
      q.done?.({ errcode, message });
    }
    return outcomes;
  }
  for (const q of toRun) d.logger.info({ jobId: q.id, action: q.action }, 'policy change journaled');
  d.runner.enqueue(toRun);
  return outcomes;
}
