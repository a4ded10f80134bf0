import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { operatorPublicKey, operatorPublicKeyBase64, signOperatorCommand, verifyOperatorSignature } from '../src/index.ts';

const op = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const keys = [operatorPublicKey(operatorPublicKeyBase64(op.publicKey))];
const SN = 'eccb24a7-fe55-4d84-9c40-6a9192419ae9';
const NOW = 1_800_000_000;
const cmd = { cmd: 'uptime', user: 'nobody' };

describe('operator signatures (opsig)', () => {
  it('a signature over command, user, hosts and expiry verifies on a named host before expiry', () => {
    const sig = signOperatorCommand(op.privateKey, cmd, [SN, 'other-sn'], NOW + 60);
    expect(verifyOperatorSignature(sig, cmd, SN, NOW, keys)).toEqual({ ok: true, keyIndex: 0 });
    // Through JSON, as it travels in a frame; PEM keys work too.
    const pem = op.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const viaPem = JSON.parse(JSON.stringify(signOperatorCommand(pem, cmd, [SN], NOW + 60)));
    expect(verifyOperatorSignature(viaPem, cmd, SN, NOW, keys).ok).toBe(true);
  });

  it('each change is refused with its reason', () => {
    const sig = signOperatorCommand(op.privateKey, cmd, [SN], NOW + 60);
    const reason = (r: ReturnType<typeof verifyOperatorSignature>) => (r.ok ? 'ok' : r.reason);
    expect(reason(verifyOperatorSignature(undefined, cmd, SN, NOW, keys))).toMatch(/no operator signature/);
    expect(reason(verifyOperatorSignature({ hosts: SN }, cmd, SN, NOW, keys))).toMatch(/malformed/);
    expect(reason(verifyOperatorSignature(sig, cmd, SN, NOW + 61, keys))).toMatch(/expired/);
    expect(reason(verifyOperatorSignature(sig, cmd, 'another-host', NOW, keys))).toMatch(/does not name this host/);
    expect(reason(verifyOperatorSignature(sig, { cmd: 'uptime; id', user: 'nobody' }, SN, NOW, keys))).toMatch(/does not verify/);
    expect(reason(verifyOperatorSignature(sig, { cmd: 'uptime' }, SN, NOW, keys))).toMatch(/does not verify/);
    expect(reason(verifyOperatorSignature({ ...sig, hosts: [SN, 'x'] }, cmd, SN, NOW, keys))).toMatch(/does not verify/);
    expect(reason(verifyOperatorSignature({ ...sig, exp: NOW + 9999 }, cmd, SN, NOW, keys))).toMatch(/does not verify/);
    const foreign = signOperatorCommand(other.privateKey, cmd, [SN], NOW + 60);
    expect(reason(verifyOperatorSignature(foreign, cmd, SN, NOW, keys))).toMatch(/does not verify/);
    expect(reason(verifyOperatorSignature({ ...sig, sig: 'garbage' }, cmd, SN, NOW, keys))).toMatch(/does not verify/);
  });

  it('public keys: base64 of 32 raw bytes only', () => {
    expect(() => operatorPublicKey('AAAA')).toThrow(/32 bytes/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => operatorPublicKeyBase64(rsa.publicKey)).toThrow(/Ed25519/);
  });
});
