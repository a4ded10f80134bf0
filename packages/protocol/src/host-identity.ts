/**
 * Host identity on the command channel (docs/security.md "Host identity"): the host CA issues
 * each host a client certificate with subject CN = agentsn and a URI SAN `urn:aspire:agentsn:<sn>`.
 * The BootAgent keeps the key and certificates in `<stateDir>/identity/`; the BasicAgent presents them.
 */

export const AGENTSN_URI_PREFIX = 'urn:aspire:agentsn:';

/** Files under the BootAgent's state dir (key 0600; certificates 0644). */
export const IDENTITY_DIR = 'identity';
export const IDENTITY_KEY_FILE = 'host.key';
export const IDENTITY_CERT_FILE = 'host.crt';
export const IDENTITY_CA_FILE = 'ca.crt';

export function agentsnUri(agentsn: string): string {
  return `${AGENTSN_URI_PREFIX}${agentsn}`;
}

/**
 * The agentsn a certificate is bound to, from node's `subjectaltname` string
 * (`URI:urn:aspire:agentsn:<sn>, DNS:...`); undefined when there is none or more than one.
 */
export function agentsnFromSubjectAltName(san: string | undefined): string | undefined {
  if (!san) return undefined;
  const found = san
    .split(/,\s*/)
    .filter((e) => e.startsWith(`URI:${AGENTSN_URI_PREFIX}`))
    .map((e) => e.slice(4 + AGENTSN_URI_PREFIX.length));
  return found.length === 1 && /^[^\s,"]{1,64}$/.test(found[0]!) ? found[0] : undefined;
}
