import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSigningKeyPem, parsePublicKey, verifySigned, verifyText } from '@aspire/protocol';
import { DEFAULT_SIGNING_KEY_FILE, loadServerSigning } from '../../src/trust/signing-key.ts';

describe('server signing key', () => {
  it('is made on first start in the data dir (0600) and the same key is loaded afterwards', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sigkey-'));
    const a = loadServerSigning({ dataDir });
    expect(statSync(join(dataDir, DEFAULT_SIGNING_KEY_FILE)).mode & 0o777).toBe(0o600);
    const b = loadServerSigning({ dataDir });
    expect(b.signer.kid).toBe(a.signer.kid);
    expect(a.announcement).toEqual({ signingKey: a.signer.publicKey });
    const job = a.signer.sign('job', { id: 'j', action: 'config' }, 'sn', Date.now() + 60_000);
    expect(
      verifySigned('job', job, { keys: [parsePublicKey(b.announcement.signingKey)!], agentsn: 'sn', nowMs: Date.now() })
        .ok,
    ).toBe(true);
  });

  it('signingKeys [current, next]: signs with the current key and announces the next one endorsed by it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigkey-'));
    writeFileSync(join(dir, 'cur.pem'), generateSigningKeyPem());
    writeFileSync(join(dir, 'next.pem'), generateSigningKeyPem());
    const s = loadServerSigning({
      dataDir: join(dir, 'data'),
      signingKeys: [join(dir, 'cur.pem'), join(dir, 'next.pem')],
    });
    const next = loadServerSigning({ dataDir: join(dir, 'data'), signingKeys: [join(dir, 'next.pem')] });
    expect(s.announcement.signingKey).toBe(s.signer.publicKey);
    expect(s.announcement.nextSigningKey).toBe(next.signer.publicKey);
    expect(
      verifyText(
        'key-rotation',
        s.announcement.nextSigningKey!,
        s.announcement.nextSigningKeySig!,
        parsePublicKey(s.signer.publicKey)!,
      ),
    ).toBe(true);
  });
});
