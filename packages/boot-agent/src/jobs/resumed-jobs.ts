/**
 * Jobs a BootAgent restart cut short that the sub-agent manager finishes now (upgrades, from
 * their markers): each outcome is journaled as the job's result when it comes, and a push is
 * asked for; one still unfinished when the BootAgent stops again stays `started` (resumeLater).
 */
import type { Logger } from 'pino';
import type { SubAgentManager } from '../contracts.ts';
import type { PushRequests } from '../loop/push-requests.ts';
import type { JobJournal } from '../state/job-journal.ts';

export interface ResumedJobs {
  /** Settle when each resumed job's result is journaled (or could not be). */
  results: Promise<void>[];
  /** The job ids the manager took (the others of the last run are reported interrupted). */
  taken: Set<string>;
}

export function finishResumedJobs(d: {
  manager: SubAgentManager | undefined;
  journal: JobJournal;
  log: Logger;
  loop: Pick<PushRequests, 'pushSoon'>;
  signal: AbortSignal;
}): ResumedJobs {
  const { journal, log, signal } = d;
  const resumed = d.manager?.resumeInterrupted?.(signal) ?? [];
  const results = resumed.map((r) => {
    log.info({ jobId: r.jobId }, 'job cut short by the last stop: finishing it');
    return r.outcome
      .then(async (outcome) => {
        if (signal.aborted && outcome.resumeLater) return;
        await journal.finish(r.jobId, outcome);
        log.info({ jobId: r.jobId, errcode: outcome.errcode }, `job finished: ${outcome.message}`);
        d.loop.pushSoon();
      })
      .catch((err: unknown) =>
        log.error(
          { err, jobId: r.jobId },
          'resumed job finished but its result could not be journaled; it is kept in memory and sent with the next push',
        ),
      );
  });
  return { results, taken: new Set(resumed.map((r) => r.jobId)) };
}
