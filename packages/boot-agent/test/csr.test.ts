import 'reflect-metadata';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { certificateRequestDer, certificateRequestPem } from '../src/identity/csr.ts';
import { HostIdentity } from '../src/identity/host-identity.ts';

x509.cryptoProvider.set(globalThis.crypto);

// The server reads a CSR with @peculiar/x509 (packages/server/src/trust/host-ca.ts): what it
// must accept is what these check.
async function parse(pem: string) {
  const csr = new x509.Pkcs10CertificateRequest(pem);
  return { csr, verified: await csr.verify() };
}

describe('certificate request made with node:crypto', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

  it('parses and verifies, subject CN = the agentsn, the key is the host key', async () => {
    const agentsn = '0f6c4a1e-7d1b-4c55-9f4e-3a0d2b9c8e71';
    const { csr, verified } = await parse(certificateRequestPem(certificateRequestDer(privateKey, publicKey, agentsn)));
    expect(verified).toBe(true);
    expect(csr.subject).toBe(`CN=${agentsn}`);
    expect(csr.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
    const spki = Buffer.from(csr.publicKey.rawData);
    expect(spki.equals(publicKey.export({ format: 'der', type: 'spki' }))).toBe(true);
  });

  it('encodes long names (multi-byte DER lengths) and non-ASCII text', async () => {
    for (const cn of ['x'.repeat(200), 'h\u00f4te-\u00e9t\u00e9-'.repeat(40)]) {
      const { csr, verified } = await parse(certificateRequestPem(certificateRequestDer(privateKey, publicKey, cn)));
      expect(verified).toBe(true);
      expect(csr.subject).toBe(`CN=${cn}`);
    }
  });

  it('a changed byte breaks the signature', async () => {
    const der = certificateRequestDer(privateKey, publicKey, 'host-a');
    const at = der.indexOf(Buffer.from('host-a'));
    der[at] = 'H'.charCodeAt(0);
    expect((await parse(certificateRequestPem(der))).verified).toBe(false);
  });

  it('refuses a key that is not EC', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => certificateRequestDer(rsa.privateKey, rsa.publicKey, 'h')).toThrow(/EC key/);
  });

  it("HostIdentity.csr: the host key's request, PEM lines of 64, memoized per agentsn", async () => {
    const id = new HostIdentity(mkdtempSync(join(tmpdir(), 'csr-')));
    const pem = await id.csr('agent-1');
    expect(pem).toMatch(
      /^-----BEGIN CERTIFICATE REQUEST-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE REQUEST-----\n$/,
    );
    const { csr, verified } = await parse(pem);
    expect(verified).toBe(true);
    const hostKey = createPublicKey(await import('node:fs').then((fs) => fs.readFileSync(id.files.key, 'utf8')));
    expect(Buffer.from(csr.publicKey.rawData).equals(hostKey.export({ format: 'der', type: 'spki' }))).toBe(true);
    expect(await id.csr('agent-1')).toBe(pem);
  });
});
