import { isDiskFull } from '@aspire/agent-core';
import { AspireError, ErrorCode, type ErrorCodeName } from '@aspire/protocol';

/**
 * A job failure with its unified error code. Thrown inside the manager's job steps and turned
 * into a JobOutcome at the edge (handleJob never throws).
 */
export class JobError extends AspireError<number> {
  /** The unified code, as `code`: the name the job results have always read. */
  readonly errcode: number;
  constructor(
    readonly codeName: ErrorCodeName,
    message: string,
    /** The BootAgent stopped mid-job and its next start finishes the job (upgrade marker): not a result yet. */
    readonly resumeLater = false,
  ) {
    super(ErrorCode[codeName], message);
    this.errcode = this.code;
  }
}

/** Map a file-system error while writing to the state dir onto a job error. */
export function fsJobError(err: unknown, what: string): JobError {
  if (err instanceof JobError) return err;
  const e = err as NodeJS.ErrnoException;
  if (isDiskFull(e)) return new JobError('JOB_DISK_FULL', `${what}: no space left on device`);
  return new JobError('JOB_INSTALL_FAILED', `${what}: ${e?.message ?? String(err)}`);
}
