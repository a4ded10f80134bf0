import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  SYNC_BASH_DEFAULT_TIMEOUT_S,
  operatorPublicKey,
  operatorPublicKeyBase64,
  signOperatorCommand,
  verifyOperatorSignature,
  type SignedCommand,
} from '../src/index.ts';

const op = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const keys = [operatorPublicKey(operatorPublicKeyBase64(op.publicKey))];
const SN = 'eccb24a7-fe55-4d84-9c40-6a9192419ae9';
const NOW = 1_800_000_000;
const cmd: SignedCommand = { method: 'sync.bash', cmd: 'uptime', user: 'nobody', timeout: 30 };
const task: SignedCommand = { method: 'task.add', name: 'up', line: '0 * * * * * root uptime' };
const reason = (r: ReturnType<typeof verifyOperatorSignature>) => (r.ok ? 'ok' : r.reason);

describe('operator signatures (opsig)', () => {
  it('a signature over method, command, user, timeout, hosts, expiry and nonce verifies on a named host before expiry', () => {
    const sig = signOperatorCommand(op.privateKey, cmd, [SN, 'other-sn'], NOW + 60);
    expect(sig.nonce).toMatch(/^[A-Za-z0-9_-]{16,64}$/);
    expect(verifyOperatorSignature(sig, cmd, SN, NOW, keys)).toEqual({
      ok: true,
      keyIndex: 0,
      nonce: sig.nonce,
      exp: NOW + 60,
    });
    // Through JSON, as it travels in a frame; PEM keys work too.
    const pem = op.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const viaPem = JSON.parse(JSON.stringify(signOperatorCommand(pem, cmd, [SN], NOW + 60)));
    expect(verifyOperatorSignature(viaPem, cmd, SN, NOW, keys).ok).toBe(true);
    // Each signature gets its own nonce (the agent runs a nonce once).
    expect(signOperatorCommand(op.privateKey, cmd, [SN], NOW + 60).nonce).not.toBe(viaPem.nonce);
    // No timeout signed means the default the server puts in the frame.
    const noTimeout = signOperatorCommand(op.privateKey, { method: 'sync.bash', cmd: 'uptime' }, [SN], NOW + 60);
    expect(
      verifyOperatorSignature(
        noTimeout,
        { method: 'sync.bash', cmd: 'uptime', timeout: SYNC_BASH_DEFAULT_TIMEOUT_S },
        SN,
        NOW,
        keys,
      ).ok,
    ).toBe(true);
  });

  it('each change is refused with its reason', () => {
    const sig = signOperatorCommand(op.privateKey, cmd, [SN], NOW + 60);
    expect(reason(verifyOperatorSignature(undefined, cmd, SN, NOW, keys))).toMatch(/no operator signature/);
    expect(reason(verifyOperatorSignature({ hosts: SN }, cmd, SN, NOW, keys))).toMatch(/malformed/);
    const { nonce: _nonce, ...noNonce } = sig;
    expect(reason(verifyOperatorSignature(noNonce, cmd, SN, NOW, keys))).toMatch(/malformed.*nonce/);
    expect(reason(verifyOperatorSignature({ ...sig, nonce: 'short' }, cmd, SN, NOW, keys))).toMatch(/malformed/);
    expect(reason(verifyOperatorSignature(sig, cmd, SN, NOW + 61, keys))).toMatch(/expired/);
    expect(reason(verifyOperatorSignature(sig, cmd, 'another-host', NOW, keys))).toMatch(/does not name this host/);
    expect(reason(verifyOperatorSignature(sig, { ...cmd, cmd: 'uptime; id' }, SN, NOW, keys))).toMatch(
      /does not verify/,
    );
    expect(
      reason(verifyOperatorSignature(sig, { method: 'sync.bash', cmd: 'uptime', timeout: 30 }, SN, NOW, keys)),
    ).toMatch(/does not verify/);
    expect(reason(verifyOperatorSignature(sig, { ...cmd, group: 'wheel' }, SN, NOW, keys))).toMatch(/does not verify/);
    // The timeout is covered: the same command with a longer one is another request.
    expect(reason(verifyOperatorSignature(sig, { ...cmd, timeout: 3600 }, SN, NOW, keys))).toMatch(/does not verify/);
    expect(reason(verifyOperatorSignature({ ...sig, hosts: [SN, 'x'] }, cmd, SN, NOW, keys))).toMatch(
      /does not verify/,
    );
    expect(reason(verifyOperatorSignature({ ...sig, exp: NOW + 9999 }, cmd, SN, NOW, keys))).toMatch(/does not verify/);
    // The nonce is covered: a fresh one cannot be put on a captured signature.
    expect(reason(verifyOperatorSignature({ ...sig, nonce: 'AAAAAAAAAAAAAAAAAAAAAAAA' }, cmd, SN, NOW, keys))).toMatch(
      /does not verify/,
    );
    const foreign = signOperatorCommand(other.privateKey, cmd, [SN], NOW + 60);
    expect(reason(verifyOperatorSignature(foreign, cmd, SN, NOW, keys))).toMatch(/does not verify/);
    expect(reason(verifyOperatorSignature({ ...sig, sig: 'garbage' }, cmd, SN, NOW, keys))).toMatch(/does not verify/);
  });

  it('task.add: the task name and the line are covered, and a sync.bash signature does not pass as a task', () => {
    const sig = signOperatorCommand(op.privateKey, task, [SN], NOW + 60);
    expect(verifyOperatorSignature(sig, task, SN, NOW, keys).ok).toBe(true);
    expect(reason(verifyOperatorSignature(sig, { ...task, name: 'other' }, SN, NOW, keys))).toMatch(/does not verify/);
    expect(reason(verifyOperatorSignature(sig, { ...task, line: '0 * * * * * root id' }, SN, NOW, keys))).toMatch(
      /does not verify/,
    );
    const asCommand = signOperatorCommand(op.privateKey, { method: 'sync.bash', cmd: task.line }, [SN], NOW + 60);
    expect(reason(verifyOperatorSignature(asCommand, task, SN, NOW, keys))).toMatch(/does not verify/);
  });

  it('public keys: base64 of 32 raw bytes only', () => {
    expect(() => operatorPublicKey('AAAA')).toThrow(/32 bytes/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => operatorPublicKeyBase64(rsa.publicKey)).toThrow(/Ed25519/);
  });
});
