/**
 * The hub's identity check at `init` (docs/security.md "Host identity"): the connection's client
 * certificate (verified against the host CA during the TLS handshake) names one agentsn; the
 * init must be that host's: its agentsn, if it sends one, is the certificate's, and its hostname
 * is the one the server has for that agentsn. The host must still exist (not deleted), and the
 * certificate must be the one the server issued it last (or the one before, during a renewal's
 * overlap): an old or leaked one is refused after a re-registration or an operator reset.
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
  /** SHA-256 of the peer certificate's DER, lowercase hex (trust/cert-fingerprint.ts). */
  fingerprint: string | undefined;
}

export async function checkInitIdentity(
  peer: PeerIdentity,
  init: { hostname: string; agentsn?: string },
  store: Pick<Store, 'hostIdentity'>,
): Promise<IdentityVerdict> {
  const certSn = peer.authorized ? agentsnFromSubjectAltName(peer.subjectAltName) : undefined;
  if (!certSn)
    return {
      ok: false,
      code: ErrorCode.IDENTITY_NO_CERTIFICATE,
      reason: 'no client certificate of the host CA naming an agentsn',
    };
  const host = await store.hostIdentity(certSn);
  if (!host || host.status === HostStatus.DELETED) {
    return {
      ok: false,
      code: ErrorCode.IDENTITY_HOST_UNKNOWN,
      reason: `certificate of ${certSn}: host ${host ? 'deleted' : 'unknown'}`,
      ...(host ? { host: certSn } : {}),
    };
  }
  // null: nothing recorded for this host (registered before certificates were recorded, or here
  // without a CSR): any certificate of the host CA for it, as before.
  if (host.cert_sha256 !== null) {
    const fp = peer.fingerprint ?? '';
    if (fp !== host.cert_sha256 && fp !== host.prev_cert_sha256) {
      const why =
        host.cert_sha256 === ''
          ? 'the host was reset and has not registered again'
          : 'the server issued it a newer one since (re-registration)';
      return {
        ok: false,
        code: ErrorCode.IDENTITY_CERT_SUPERSEDED,
        reason: `certificate of ${certSn} (sha256 ${fp.slice(0, 16)}…) is not the host's current one: ${why}`,
        host: certSn,
      };
    }
  }
  if (init.agentsn && init.agentsn !== certSn) {
    return {
      ok: false,
      code: ErrorCode.IDENTITY_MISMATCH,
      reason: `init claims agentsn ${init.agentsn} with the certificate of ${certSn}`,
      host: certSn,
    };
  }
  if (init.hostname !== host.hostname) {
    return {
      ok: false,
      code: ErrorCode.IDENTITY_MISMATCH,
      reason: `init claims hostname ${init.hostname}; the certificate's host ${certSn} is ${host.hostname}`,
      host: certSn,
    };
  }
  return { ok: true, agentsn: certSn };
}
