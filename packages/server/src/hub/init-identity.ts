/**
 * The hub's identity check at `init` (docs/security.md "Host identity"): the connection's client
 * certificate (verified against the host CA during the TLS handshake) names one agentsn; the
 * init must be that host's: its agentsn, if it sends one, is the certificate's, and its hostname
 * is the one the server has for that agentsn. The host must still exist (not deleted).
 */
import { ErrorCode, agentsnFromSubjectAltName } from '@aspire/protocol';
import { HostStatus } from '@aspire/protocol';
import type { Store } from '../store/store.ts';

export type IdentityVerdict =
  | { ok: true; agentsn: string }
  /** `host`: the certificate's agentsn, when known (the refusal is recorded as an event on it). */
  | { ok: false; code: number; reason: string; host?: string };

export interface PeerIdentity {
  /** The TLS layer verified the chain against the host CA. */
  authorized: boolean;
  /** node's `subjectaltname` of the peer certificate. */
  subjectAltName: string | undefined;
}

export async function checkInitIdentity(
  peer: PeerIdentity,
  init: { hostname: string; agentsn?: string },
  store: Pick<Store, 'hostIdentity'>,
): Promise<IdentityVerdict> {
  const certSn = peer.authorized ? agentsnFromSubjectAltName(peer.subjectAltName) : undefined;
  if (!certSn) return { ok: false, code: ErrorCode.IDENTITY_NO_CERTIFICATE, reason: 'no client certificate of the host CA naming an agentsn' };
  const host = await store.hostIdentity(certSn);
  if (!host || host.status === HostStatus.DELETED) {
    return { ok: false, code: ErrorCode.IDENTITY_HOST_UNKNOWN, reason: `certificate of ${certSn}: host ${host ? 'deleted' : 'unknown'}`, ...(host ? { host: certSn } : {}) };
  }
  if (init.agentsn && init.agentsn !== certSn) {
    return { ok: false, code: ErrorCode.IDENTITY_MISMATCH, reason: `init claims agentsn ${init.agentsn} with the certificate of ${certSn}`, host: certSn };
  }
  if (init.hostname !== host.hostname) {
    return { ok: false, code: ErrorCode.IDENTITY_MISMATCH, reason: `init claims hostname ${init.hostname}; the certificate's host ${certSn} is ${host.hostname}`, host: certSn };
  }
  return { ok: true, agentsn: certSn };
}
