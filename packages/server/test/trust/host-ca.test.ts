import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostIdentity } from '../../../boot-agent/src/identity/host-identity.ts';
import { CsrError, hostCaFromPem, loadOrCreateHostCa } from '../../src/trust/host-ca.ts';

// The host CA: made once in the data dir (key 0600), issues agentsn-bound client certificates
// for a CSR (here made by the BootAgent's own identity code), refuses what is not a valid CSR.
describe('host CA', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('is made on first start with its key 0600, and the same CA is loaded afterwards', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'host-ca-'));
    const ca = await loadOrCreateHostCa({ dataDir }, now);
    expect(statSync(join(dataDir, 'host-ca', 'ca.key')).mode & 0o777).toBe(0o600);
    expect(new X509Certificate(ca.certPem).ca).toBe(true);
    const again = await loadOrCreateHostCa({ dataDir }, now + 1000);
    expect(again.certPem).toBe(ca.certPem);
  });

  it("issues a client certificate bound to the agentsn the server answers, for the CSR's key", async () => {
    const ca = await loadOrCreateHostCa({ dataDir: mkdtempSync(join(tmpdir(), 'host-ca-')) }, now);
    const hostDir = mkdtempSync(join(tmpdir(), 'host-id-'));
    const id = new HostIdentity(hostDir);
    // The CSR's subject says "proposed"; the certificate names the agentsn the server decided.
    const pem = await ca.issue(await id.csr('proposed'), 'sn-final', now, 3600);
    const cert = new X509Certificate(pem);
    expect(cert.subject).toBe('CN=sn-final');
    expect(cert.subjectAltName).toBe('URI:urn:aspire:agentsn:sn-final');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(cert.ca).toBe(false);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(
      cert.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(readFileSync(id.files.key)))),
    ).toBe(true);
    expect(Date.parse(cert.validTo)).toBe(Math.floor((now + 3600_000) / 1000) * 1000);
    expect(statSync(id.files.key).mode & 0o777).toBe(0o600);
    // The host renews when a third of the lifetime is left, not before.
    await id.save(pem, ca.certPem);
    expect(id.needsCertificate('sn-final', now + 1000)).toBe(false);
    expect(id.needsCertificate('sn-final', now + 3600_000 - 1000_000)).toBe(true);
    expect(id.needsCertificate('another-sn', now + 1000)).toBe(true);
  });

  it("refuses garbage and a CSR whose signature does not verify; refuses a key that is not the certificate's", async () => {
    const ca = await loadOrCreateHostCa({ dataDir: mkdtempSync(join(tmpdir(), 'host-ca-')) }, now);
    await expect(ca.issue('not a csr', 'sn', now, 60)).rejects.toBeInstanceOf(CsrError);
    const csr = await new HostIdentity(mkdtempSync(join(tmpdir(), 'host-id-'))).csr('sn');
    const body = csr
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .join('');
    const der = Buffer.from(body, 'base64');
    der.writeUInt8(der.readUInt8(der.length - 5) ^ 0xff, der.length - 5); // inside the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(ca.checkCsr(tampered)).rejects.toBeInstanceOf(CsrError);
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      .privateKey.export({ format: 'pem', type: 'pkcs8' })
      .toString();
    expect(() => hostCaFromPem(ca.certPem, otherKey, 'test')).toThrow(/does not match/);
  });
});
