/**
 * The `config` job (docs/boot-agent.md "Jobs"): svrlist becomes the pushed server list (after the build-time and
 * -S lists, which it never changes), step the push interval, tags the host tags. Persisted to the
 * metafile before the job reports success. Idempotent: it sets values, it does not add to them.
 */
import { isDiskFull } from '@aspire/agent-core';
import { ErrorCode, type ConfigJob } from '@aspire/protocol';
import type { JobOutcome } from '../contracts.ts';
import { BOOT_BOUNDS } from '../config/boot-config.ts';
import { checkTags } from '../config/tags.ts';
import { checkServerList } from '../net/server-list.ts';
import type { MetaFile, MetaStore } from '../state/meta-store.ts';

/** `job` was checked at the edge (jobs/job-validation.ts); its values are checked here as they are applied. */
export async function applyConfigJob(job: ConfigJob, meta: MetaStore, onStepChanged: () => void): Promise<JobOutcome> {
  const patch: Partial<MetaFile> = {};
  const done: string[] = [];
  if (job.svrlist !== undefined) {
    const list = checkServerList(job.svrlist);
    if (!list.ok) return { errcode: ErrorCode.JOB_INVALID, message: `Invalid job: svrlist: ${list.error}` };
    patch.pushedServers = list.entries;
    done.push(`svrlist=${list.entries.join(',') || '(empty)'}`);
  }
  if (job.step !== undefined) {
    const b = BOOT_BOUNDS.step;
    const step = Math.min(b.max, Math.max(b.min, job.step));
    patch.step = step;
    patch.stepFrom = 'server';
    done.push(
      step === job.step ? `step=${step}` : `step=${step} (clamped from ${job.step}, allowed ${b.min}..${b.max})`,
    );
  }
  if (job.tags !== undefined) {
    const problem = checkTags(job.tags);
    if (problem) return { errcode: ErrorCode.JOB_INVALID, message: `Invalid job: tags: ${problem}` };
    patch.tags = job.tags;
    patch.tagsFrom = 'server';
    done.push(`tags=${job.tags}`);
  }
  if (done.length === 0)
    return { errcode: ErrorCode.JOB_INVALID, message: 'Invalid job: config job sets none of svrlist, step, tags' };
  try {
    await meta.update(patch);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const code = isDiskFull(e) ? ErrorCode.JOB_DISK_FULL : ErrorCode.EXEC_ERROR;
    return { errcode: code, message: `cannot persist config to the metafile: ${e.message}` };
  }
  if (patch.step !== undefined) onStepChanged();
  return { errcode: ErrorCode.OK, message: `success: ${done.join(' ')}` };
}
