/**
 * The identity of one client certificate as the server records it per host and the hub compares
 * at init (docs/security.md "Host identity"): SHA-256 of its DER, lowercase hex without colons.
 * Not the key's hash: a host keeps its key across renewals and re-registrations, so only the
 * certificate itself tells an old (leaked, superseded) one from the current one.
 */
import { X509Certificate } from 'node:crypto';

/** From node's `fingerprint256` ("AB:CD:..."), as getPeerCertificate() and X509Certificate give it. */
export function normalizeFingerprint(fingerprint256: string): string {
  return fingerprint256.replace(/:/g, '').toLowerCase();
}

export function certificateFingerprint(pem: string): string {
  return normalizeFingerprint(new X509Certificate(pem).fingerprint256);
}
