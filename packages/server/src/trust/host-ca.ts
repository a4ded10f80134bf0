/**
 * The host CA (docs/security.md "Host identity"): the certificate authority that issues each
 * host a short-lived client certificate for the command channel, bound to its agentsn
 * (subject CN = agentsn, URI SAN urn:aspire:agentsn:<sn>, extended key usage clientAuth).
 *
 * Its certificate and key come from the config (hostCaCert, hostCaKey) or, by default, from
 * `<dataDir>/host-ca/` where they are created on first start (key 0600).
 */
import { createPrivateKey, randomBytes, X509Certificate as NodeX509, type webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTextAtomic } from '@aspire/agent-core';
import { agentsnUri } from '@aspire/protocol';
import { loadX509 } from './x509-lib.ts';
import { AspireError } from '@aspire/protocol';

export const HOST_CA_DIR = 'host-ca';
export const HOST_CA_CERT_FILE = 'ca.crt';
export const HOST_CA_KEY_FILE = 'ca.key';
/** Lifetime of a CA made on first start. */
export const HOST_CA_LIFETIME_DAYS = 3650;
/**
 * Issued certificates start this much before "now" (clock skew between server and hosts): 5 min,
 * or a tenth of a short lifetime, so the agent's renewal point (a third left) stays meaningful.
 */
export const BACKDATE_MS = 5 * 60_000;
export function backdateMs(lifetimeSec: number): number {
  return Math.min(BACKDATE_MS, lifetimeSec * 100);
}

export interface HostCa {
  /** PEM of the CA certificate: what the hub verifies client certificates against. */
  readonly certPem: string;
  /** Where it came from (logs). */
  readonly source: string;
  /**
   * A client certificate for the public key of `csrPem` (whose signature must verify), bound
   * to `agentsn`, valid from `now` for `lifetimeSec`. The CSR's own subject is ignored.
   */
  issue(csrPem: string, agentsn: string, now: number, lifetimeSec: number): Promise<string>;
  /** Throws CsrError unless `csrPem` is a PEM PKCS#10 request whose signature verifies. */
  checkCsr(csrPem: string): Promise<void>;
}

export class CsrError extends AspireError<'EBADCSR'> {
  constructor(message: string) {
    super('EBADCSR', message);
  }
}

type SignAlg =
  | { name: 'ECDSA'; namedCurve: string; hash: 'SHA-256' | 'SHA-384' }
  | { name: 'RSASSA-PKCS1-v1_5'; hash: 'SHA-256' };

/** The webcrypto algorithm of a PEM private key (EC P-256/P-384 or RSA). */
function keyAlgorithm(keyPem: string): { alg: SignAlg; pkcs8: Buffer } {
  const key = createPrivateKey(keyPem);
  const pkcs8 = key.export({ format: 'der', type: 'pkcs8' });
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { alg: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }, pkcs8 };
    if (curve === 'secp384r1') return { alg: { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' }, pkcs8 };
    throw new Error(`host CA key: EC curve ${curve ?? '?'} not supported (use P-256 or P-384)`);
  }
  if (key.asymmetricKeyType === 'rsa') return { alg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, pkcs8 };
  throw new Error(`host CA key: ${key.asymmetricKeyType ?? '?'} keys are not supported (use EC P-256/P-384 or RSA)`);
}

/** Random positive serial number (hex). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f || 0x01;
  return b.toString('hex');
}

/** Make a new self-signed CA (EC P-256) and return its PEM certificate and PKCS#8 key. */
export async function createCaFiles(now: number, cn = 'Aspire host CA'): Promise<{ certPem: string; keyPem: string }> {
  const x509 = await loadX509();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${cn}`,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + HOST_CA_LIFETIME_DAYS * 86_400_000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString('pem') + '\n', keyPem };
}

/**
 * A HostCa over PEM text. The key must match the certificate, which must be a CA (checked now,
 * with node:crypto); @peculiar/x509 is loaded on the first CSR, not before.
 */
export function hostCaFromPem(certPem: string, keyPem: string, source: string): HostCa {
  const nodeCert = new NodeX509(certPem);
  if (!nodeCert.ca) throw new Error(`host CA ${source}: the certificate is not a CA (basicConstraints CA:TRUE)`);
  if (!nodeCert.checkPrivateKey(createPrivateKey(keyPem)))
    throw new Error(`host CA ${source}: the key does not match the certificate`);
  const { alg, pkcs8 } = keyAlgorithm(keyPem);
  const load = async () => {
    const x509 = await loadX509();
    const caCert = new x509.X509Certificate(certPem);
    const signingKey = await crypto.subtle.importKey(
      'pkcs8',
      pkcs8,
      alg.name === 'ECDSA' ? { name: 'ECDSA', namedCurve: alg.namedCurve } : alg,
      false,
      ['sign'],
    );
    const authorityKeyId = await x509.AuthorityKeyIdentifierExtension.create(await caCert.publicKey.export());
    const parseCsr = async (csrPem: string) => {
      let csr: InstanceType<typeof x509.Pkcs10CertificateRequest>;
      try {
        csr = new x509.Pkcs10CertificateRequest(csrPem);
      } catch (err) {
        throw new CsrError(`csr: not a PEM certificate request (${(err as Error).message})`);
      }
      if (!(await csr.verify().catch(() => false))) throw new CsrError('csr: its signature does not verify');
      return csr;
    };
    return { x509, caCert, signingKey, authorityKeyId, parseCsr };
  };
  let loaded: ReturnType<typeof load> | undefined;
  const lib = () => (loaded ??= load());
  return {
    certPem,
    source,
    async checkCsr(csrPem) {
      await (await lib()).parseCsr(csrPem);
    },
    async issue(csrPem, agentsn, now, lifetimeSec) {
      const { x509, caCert, signingKey, authorityKeyId, parseCsr } = await lib();
      const csr = await parseCsr(csrPem);
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: [{ CN: [agentsn] }],
        issuer: caCert.subjectName,
        notBefore: new Date(now - backdateMs(lifetimeSec)),
        notAfter: new Date(now + lifetimeSec * 1000),
        signingAlgorithm: alg,
        publicKey: csr.publicKey,
        signingKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
          new x509.SubjectAlternativeNameExtension([{ type: 'url', value: agentsnUri(agentsn) }], false),
          authorityKeyId,
        ],
      });
      return cert.toString('pem') + '\n';
    },
  };
}

export interface HostCaConfig {
  dataDir: string;
  /** PEM files given by the operator (both or neither). */
  hostCaCert?: string;
  hostCaKey?: string;
}

/** The configured CA, or the one in the data dir (made on first start, key 0600). */
export async function loadOrCreateHostCa(cfg: HostCaConfig, now: number): Promise<HostCa> {
  if (cfg.hostCaCert && cfg.hostCaKey) {
    return hostCaFromPem(readFileSync(cfg.hostCaCert, 'utf8'), readFileSync(cfg.hostCaKey, 'utf8'), cfg.hostCaCert);
  }
  const dir = join(cfg.dataDir, HOST_CA_DIR);
  const certFile = join(dir, HOST_CA_CERT_FILE);
  const keyFile = join(dir, HOST_CA_KEY_FILE);
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const made = await createCaFiles(now);
    // Key first: a certificate without its key would be a CA nobody can use.
    await writeTextAtomic(keyFile, made.keyPem, 0o600);
    await writeTextAtomic(certFile, made.certPem, 0o644);
  }
  return hostCaFromPem(readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8'), certFile);
}
