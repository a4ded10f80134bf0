import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  canonicalJson,
  createSigner,
  generateSigningKeyPem,
  keyId,
  parsePinFile,
  parsePublicKey,
  verifySigned,
  verifyText,
} from '../src/index.ts';

const NOW = Date.UTC(2026, 0, 1);
const server = createSigner(generateSigningKeyPem());
const other = createSigner(generateSigningKeyPem());
const pinned = [parsePublicKey(server.publicKey)!];
const opts = { keys: pinned, agentsn: 'sn-1', nowMs: NOW };
const job = { id: 'j1', action: 'install', name: 'BasicAgent', version: '1.0.0', envs: { B: '2', A: '1' } };

describe('canonical form', () => {
  it('sorts keys at every depth, has no whitespace, leaves undefined out', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x', null], c: true }, u: undefined })).toBe(
      '{"a":{"c":true,"d":[1,"x",null]},"b":1}',
    );
    expect(canonicalJson({ b: 1, a: 2 })).toBe(canonicalJson({ a: 2, b: 1 }));
  });

  it('refuses what JSON cannot carry unchanged', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/non-finite/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/cannot encode/);
  });
});

describe('sign and verify', () => {
  it('a signed job verifies, also after a JSON round trip with keys reordered', () => {
    const signed = server.sign('job', job, 'sn-1', NOW + 60_000);
    expect(signed).toMatchObject({ ...job, agentsn: 'sn-1', expires: NOW + 60_000, kid: server.kid });
    expect(signed.kid).toBe(keyId(pinned[0]!));
    const { sig, ...rest } = signed;
    const wire = JSON.parse(JSON.stringify({ sig, ...rest, envs: { A: '1', B: '2' } })) as unknown;
    expect(verifySigned('job', wire, opts)).toEqual({ ok: true, kid: server.kid, expires: NOW + 60_000 });
  });

  it('a tampered field is refused SIGNATURE_INVALID', () => {
    const signed = server.sign('job', job, 'sn-1', NOW + 60_000);
    for (const tampered of [
      { ...signed, version: '6.6.6' },
      { ...signed, envs: { A: '1', B: '3' } },
      { ...signed, extra: 'added' },
      { ...signed, expires: NOW + 120_000 },
      { ...signed, id: 'j2' },
    ]) {
      const r = verifySigned('job', tampered, opts);
      expect(r).toMatchObject({ ok: false, code: 'SIGNATURE_INVALID', errcode: ErrorCode.SIGNATURE_INVALID });
    }
  });

  it('a signature by another key is refused, under its own kid or under the pinned kid', () => {
    const forged = other.sign('job', job, 'sn-1', NOW + 60_000);
    expect(verifySigned('job', forged, opts)).toMatchObject({ ok: false, code: 'SIGNATURE_INVALID' });
    expect(verifySigned('job', { ...forged, kid: server.kid }, opts)).toMatchObject({
      ok: false,
      code: 'SIGNATURE_INVALID',
    });
  });

  it('expired is refused SIGNATURE_EXPIRED; too long a validity is refused', () => {
    const signed = server.sign('job', job, 'sn-1', NOW - 1);
    expect(verifySigned('job', signed, opts)).toMatchObject({
      ok: false,
      code: 'SIGNATURE_EXPIRED',
      errcode: ErrorCode.SIGNATURE_EXPIRED,
    });
    expect(verifySigned('job', server.sign('job', job, 'sn-1', NOW), opts)).toMatchObject({
      ok: false,
      code: 'SIGNATURE_EXPIRED',
    });
    expect(verifySigned('job', server.sign('job', job, 'sn-1', NOW + 30 * 86_400_000), opts)).toMatchObject({
      ok: false,
      code: 'SIGNATURE_INVALID',
    });
  });

  it("another host's agentsn is refused SIGNATURE_WRONG_TARGET", () => {
    const signed = server.sign('job', job, 'sn-2', NOW + 60_000);
    expect(verifySigned('job', signed, opts)).toMatchObject({
      ok: false,
      code: 'SIGNATURE_WRONG_TARGET',
      errcode: ErrorCode.SIGNATURE_WRONG_TARGET,
    });
  });

  it('unsigned and half-signed objects are refused SIGNATURE_MISSING; no pinned key is SIGNATURE_NO_PINNED_KEY', () => {
    expect(verifySigned('job', job, opts)).toMatchObject({ ok: false, code: 'SIGNATURE_MISSING' });
    const { kid: _kid, ...noKid } = server.sign('job', job, 'sn-1', NOW + 60_000);
    expect(verifySigned('job', noKid, opts)).toMatchObject({ ok: false, code: 'SIGNATURE_MISSING' });
    expect(verifySigned('job', 'text', opts)).toMatchObject({ ok: false, code: 'SIGNATURE_MISSING' });
    expect(verifySigned('job', server.sign('job', job, 'sn-1', NOW + 60_000), { ...opts, keys: [] })).toMatchObject({
      ok: false,
      code: 'SIGNATURE_NO_PINNED_KEY',
    });
  });

  it('a signed job is not a valid frame (purpose is signed)', () => {
    const signed = server.sign('job', { id: 'x', method: 'sync.bash', cmd: 'id' }, 'sn-1', NOW + 60_000);
    expect(verifySigned('frame', signed, opts)).toMatchObject({ ok: false, code: 'SIGNATURE_INVALID' });
    expect(verifySigned('job', signed, opts).ok).toBe(true);
  });

  it('accepts a signature by any pinned key (current and announced next)', () => {
    const both = [pinned[0]!, parsePublicKey(other.publicKey)!];
    expect(
      verifySigned('frame', other.sign('frame', { id: 'f', method: 'getinfo.kernel' }, 'sn-1', NOW + 1000), {
        ...opts,
        keys: both,
      }).ok,
    ).toBe(true);
  });

  it("detached text signatures (rotation announcements) verify only with the signer's key", () => {
    const sig = server.signText('key-rotation', other.publicKey);
    expect(verifyText('key-rotation', other.publicKey, sig, pinned[0]!)).toBe(true);
    expect(verifyText('key-rotation', server.publicKey, sig, pinned[0]!)).toBe(false);
    expect(verifyText('key-rotation', other.publicKey, sig, parsePublicKey(other.publicKey)!)).toBe(false);
  });
});

describe('keys', () => {
  it('parses base64 SPKI and PEM, refuses non-Ed25519 and junk', () => {
    const pem = parsePublicKey(server.publicKey)!.export({ type: 'spki', format: 'pem' }).toString();
    expect(keyId(parsePublicKey(pem)!)).toBe(server.kid);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .publicKey.export({ type: 'spki', format: 'der' })
      .toString('base64');
    expect(parsePublicKey(rsa)).toBeUndefined();
    expect(parsePublicKey('not a key')).toBeUndefined();
  });

  it('a pin file lists keys one a line, comments and blanks ignored', () => {
    const keys = parsePinFile(`# current\n${server.publicKey}\n\n${other.publicKey}\ngarbage\n`);
    expect(keys.map(keyId)).toEqual([server.kid, other.kid]);
  });
});
