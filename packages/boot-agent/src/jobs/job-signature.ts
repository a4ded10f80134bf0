/**
 * The signature step of a job (docs/security.md "Signed jobs and command frames"), after the
 * journal's replay check and before the validation: a job not signed by the pinned server key,
 * expired, for another host, or expiring no later than a tombstone the journal had to forget
 * (a possible replay) is answered with the code and a `refused` event; nothing of it runs.
 */
import { BOOT_AGENT_NAME, ErrorCode, ErrorMessage, type VerifyOutcome } from '@aspire/protocol';
import type { JobJournal } from '../state/job-journal.ts';
import type { JobRefused } from './job-validation.ts';

export function signatureRefusal(
  journal: JobJournal,
  id: string,
  item: unknown,
  signature: VerifyOutcome,
): JobRefused | undefined {
  let errcode: number;
  let code: string;
  let reason: string;
  if (!signature.ok) ({ errcode, code, reason } = signature);
  else if (journal.isBelowFloor(signature.expires)) {
    errcode = ErrorCode.SIGNATURE_REPLAYED;
    code = 'SIGNATURE_REPLAYED';
    reason = `${ErrorMessage.SIGNATURE_REPLAYED}: job ${id} expires no later than a job id this host no longer remembers; it may be a replay`;
  } else return undefined;
  const action = String((item as { action?: unknown }).action ?? '?').slice(0, 32);
  journal.emit('refused', `job ${id} (${action}) refused: ${reason}`, {
    agent: BOOT_AGENT_NAME,
    data: { jobId: id, action, errcode, code },
  });
  return { ok: false, action, errcode, message: reason };
}
