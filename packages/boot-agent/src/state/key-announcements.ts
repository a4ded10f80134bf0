/**
 * The server's signing-key announcements (register and status replies) checked against the
 * pin (server-key-pin.ts): pinned, rotated and next keys are logged; a refused key is logged
 * and sent as a `refused` event once per offered key, so a server announcing it on every push
 * does not flood the event queue.
 */
import { BOOT_AGENT_NAME, type SigningKeyAnnouncement } from '@aspire/protocol';
import type { Logger } from 'pino';
import type { JobJournal } from './job-journal.ts';
import type { ServerKeyPin } from './server-key-pin.ts';

export type KeyAnnouncements = (a: Partial<SigningKeyAnnouncement>) => void;

export function keyAnnouncements(pin: ServerKeyPin, log: Logger, journal: JobJournal): KeyAnnouncements {
  let refusedKid: string | undefined;
  return (a) => {
    try {
      const out = pin.accept(a);
      if (out.kind === 'pinned' || out.kind === 'next-recorded' || out.kind === 'rotated')
        log.info({ kid: out.kid, pin: pin.path }, `server signing key ${out.kind}`);
      if (out.kind !== 'refused') return;
      if (refusedKid === out.offeredKid) return;
      refusedKid = out.offeredKid;
      log.error({ offeredKid: out.offeredKid, pinnedKid: pin.currentKid }, out.message);
      journal.emit('refused', out.message, {
        agent: BOOT_AGENT_NAME,
        data: { errcode: out.errcode, offeredKid: out.offeredKid, pinnedKid: pin.currentKid },
      });
    } catch (err) {
      log.error({ err }, 'cannot write the pinned server key');
    }
  };
}
