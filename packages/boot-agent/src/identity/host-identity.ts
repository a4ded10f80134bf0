/**
 * The host's identity on the command channel (docs/security.md "Host identity"): an EC P-256 key
 * made once and kept 0600 in `<stateDir>/identity/host.key`, the client certificate the server's
 * host CA issued for it (`host.crt`, bound to the agentsn) and that CA's certificate (`ca.crt`).
 * The BootAgent asks for a certificate with a CSR at registration, and again through a status
 * push when less than a third of its lifetime is left; the BasicAgent presents key and
 * certificate to the hub. The CSR is made with node:crypto alone (csr.ts).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTextAtomic } from '@aspire/agent-core';
import { certificateRequestDer, certificateRequestPem } from './csr.ts';
import {
  IDENTITY_CA_FILE,
  IDENTITY_CERT_FILE,
  IDENTITY_DIR,
  IDENTITY_KEY_FILE,
  agentsnFromSubjectAltName,
} from '@aspire/protocol';

export interface IdentityFiles {
  dir: string;
  key: string;
  cert: string;
  ca: string;
}

export function identityFiles(stateDir: string): IdentityFiles {
  const dir = join(stateDir, IDENTITY_DIR);
  return {
    dir,
    key: join(dir, IDENTITY_KEY_FILE),
    cert: join(dir, IDENTITY_CERT_FILE),
    ca: join(dir, IDENTITY_CA_FILE),
  };
}

/** Renew when less than this share of the certificate's lifetime is left. */
export const RENEW_WHEN_LEFT = 1 / 3;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** What a certificate file says, or undefined when it is missing or unreadable. */
export function certificateFacts(
  pem: string | undefined,
): { agentsn: string | undefined; notBefore: number; notAfter: number } | undefined {
  if (!pem) return undefined;
  try {
    const c = new X509Certificate(pem);
    return {
      agentsn: agentsnFromSubjectAltName(c.subjectAltName),
      notBefore: Date.parse(c.validFrom),
      notAfter: Date.parse(c.validTo),
    };
  } catch {
    return undefined;
  }
}

/** True when there is no certificate for `agentsn`, or less than a third of its lifetime is left. */
export function needsCertificate(pem: string | undefined, agentsn: string, now: number): boolean {
  const f = certificateFacts(pem);
  if (!f || f.agentsn !== agentsn) return true;
  return f.notAfter - now < (f.notAfter - f.notBefore) * RENEW_WHEN_LEFT;
}

/** After a server answered a CSR without a certificate (no host CA, host deleted), ask again this much later. */
export const ASK_AGAIN_AFTER_MS = 3600_000;

export class HostIdentity {
  readonly files: IdentityFiles;
  private csrMemo: { agentsn: string; pem: string } | undefined;
  private askAgainAt = 0;

  constructor(stateDir: string) {
    this.files = identityFiles(stateDir);
  }

  /** Whether the agent should send a CSR now (see needsCertificate; not while a refusal is recent). */
  needsCertificate(agentsn: string, now: number): boolean {
    return now >= this.askAgainAt && needsCertificate(readText(this.files.cert), agentsn, now);
  }

  /** The server answered a CSR without a certificate: do not ask on every push. */
  declined(now: number): void {
    this.askAgainAt = now + ASK_AGAIN_AFTER_MS;
  }

  /** A PEM CSR for the host key (made now, 0600, when there is none), subject CN = agentsn. */
  async csr(agentsn: string): Promise<string> {
    if (this.csrMemo?.agentsn === agentsn) return this.csrMemo.pem;
    const keyPem = await this.key();
    const der = certificateRequestDer(createPrivateKey(keyPem), createPublicKey(keyPem), agentsn);
    const pem = `${certificateRequestPem(der)}\n`;
    this.csrMemo = { agentsn, pem };
    return pem;
  }

  /** Keep what the server issued: the certificate beside the key, and the CA's certificate. */
  async save(certPem: string, caPem: string | undefined): Promise<void> {
    if (caPem) await writeTextAtomic(this.files.ca, caPem, 0o644);
    await writeTextAtomic(this.files.cert, certPem, 0o644);
    this.csrMemo = undefined;
    this.askAgainAt = 0;
  }

  private async key(): Promise<string> {
    const existing = readText(this.files.key);
    if (existing) {
      try {
        const k = createPrivateKey(existing);
        if (k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1') return existing;
      } catch {
        /* unreadable: made anew below */
      }
    }
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await writeTextAtomic(this.files.key, pem, 0o600);
    return pem;
  }
}
