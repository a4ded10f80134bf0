import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@aspire/agent-core';
import { ErrorCode, createSigner, generateSigningKeyPem } from '@aspire/protocol';
import { ManualClock } from '@aspire/testing';
import { FrameVerifier } from '../src/agent/frame-verifier.ts';

const key = createSigner(generateSigningKeyPem());
const next = createSigner(generateSigningKeyPem());

function setup(maxSeen?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'verifier-'));
  const keysFile = join(dir, 'server-signing.pub');
  writeFileSync(keysFile, `${key.publicKey}\n`);
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const v = new FrameVerifier({
    keysFile,
    identity: () => 'sn-1',
    clock,
    logger: silentLogger(),
    ...(maxSeen ? { maxSeen } : {}),
  });
  const frame = (id: string, ttlMs = 60_000, signer = key) =>
    signer.sign('frame', { id, method: 'getinfo.kernel' }, 'sn-1', clock.now() + ttlMs);
  return { v, clock, frame, keysFile };
}

describe('frame verifier', () => {
  it('passes a signed frame once; the same id again is SIGNATURE_REPLAYED until it expires', async () => {
    const { v, clock, frame } = setup();
    const f = frame('a', 10_000);
    expect(v.check(f)).toBeUndefined();
    expect(v.check(f)).toMatchObject({ id: 'a', resp: 'failed', retcode: ErrorCode.SIGNATURE_REPLAYED });
    await clock.advance(10_001);
    // Expired now: refused for that, whatever the cache holds.
    expect(v.check(f)).toMatchObject({ retcode: ErrorCode.SIGNATURE_EXPIRED });
  });

  it('a full cache forgets the oldest id but refuses frames expiring no later than it (no replay through eviction)', () => {
    const { v, frame } = setup(2);
    const a = frame('a', 10_000);
    expect(v.check(a)).toBeUndefined();
    expect(v.check(frame('b', 20_000))).toBeUndefined();
    expect(v.check(frame('c', 30_000))).toBeUndefined(); // evicts a
    expect(v.check(a)).toMatchObject({ retcode: ErrorCode.SIGNATURE_REPLAYED });
    expect(v.check(frame('d', 40_000))).toBeUndefined();
  });

  it('refuses everything without a pin file, and picks up a key added to it (rotation)', () => {
    const { v, frame, keysFile } = setup();
    expect(v.check(frame('n1', 60_000, next))).toMatchObject({ retcode: ErrorCode.SIGNATURE_INVALID });
    writeFileSync(keysFile, `${key.publicKey}\n${next.publicKey}\n# rotation\n`);
    expect(v.check(frame('n2', 60_000, next))).toBeUndefined();
    writeFileSync(keysFile, '');
    expect(v.check(frame('n3'))).toMatchObject({ retcode: ErrorCode.SIGNATURE_NO_PINNED_KEY });
  });
});
