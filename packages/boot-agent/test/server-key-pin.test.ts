import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, createSigner, generateSigningKeyPem, keyId, parsePublicKey } from '@aspire/protocol';
import { SERVER_KEY_PIN_FILE, ServerKeyPin, readConfiguredKey } from '../src/state/server-key-pin.ts';

const current = createSigner(generateSigningKeyPem());
const next = createSigner(generateSigningKeyPem());
const stranger = createSigner(generateSigningKeyPem());
const announce = (s: typeof current, n?: typeof current) =>
  n
    ? {
        signingKey: s.publicKey,
        nextSigningKey: n.publicKey,
        nextSigningKeySig: s.signText('key-rotation', n.publicKey),
      }
    : { signingKey: s.publicKey };
const kids = (pin: ServerKeyPin) => pin.keys().map(keyId);
const fresh = () => mkdtempSync(join(tmpdir(), 'pin-'));

describe('server key pin', () => {
  it('pins the first announced key on disk, then keeps it across a reopen', () => {
    const dir = fresh();
    const pin = ServerKeyPin.open(dir);
    expect(pin.keys()).toEqual([]);
    expect(pin.accept({})).toEqual({ kind: 'none' });
    expect(pin.accept(announce(current))).toEqual({ kind: 'pinned', kid: current.kid });
    expect(readFileSync(join(dir, SERVER_KEY_PIN_FILE), 'utf8')).toContain(current.publicKey);
    expect(kids(ServerKeyPin.open(dir))).toEqual([current.kid]);
    expect(pin.accept(announce(current))).toEqual({ kind: 'unchanged' });
  });

  it('refuses a different key and keeps the pin (SIGNATURE_KEY_CHANGED)', () => {
    const pin = ServerKeyPin.open(fresh());
    pin.accept(announce(current));
    const out = pin.accept(announce(stranger));
    expect(out).toMatchObject({ kind: 'refused', errcode: ErrorCode.SIGNATURE_KEY_CHANGED, offeredKid: stranger.kid });
    expect(kids(pin)).toEqual([current.kid]);
    // A "next" key endorsed by the stranger, not by the pinned key, changes nothing either.
    const pin2 = ServerKeyPin.open(fresh());
    pin2.accept(announce(current));
    expect(
      pin2.accept({
        ...announce(current),
        nextSigningKey: next.publicKey,
        nextSigningKeySig: stranger.signText('key-rotation', next.publicKey),
      }),
    ).toEqual({ kind: 'unchanged' });
    expect(kids(pin2)).toEqual([current.kid]);
  });

  it('rotation: the next key endorsed by the current one is recorded, then promoted when the server switches', () => {
    const dir = fresh();
    const pin = ServerKeyPin.open(dir);
    pin.accept(announce(current));
    expect(pin.accept(announce(current, next))).toEqual({ kind: 'next-recorded', kid: next.kid });
    expect(kids(pin)).toEqual([current.kid, next.kid]);
    expect(pin.accept(announce(next))).toEqual({ kind: 'rotated', kid: next.kid });
    expect(kids(ServerKeyPin.open(dir))).toEqual([next.kid]);
    // The old key is gone after the switch.
    expect(pin.accept(announce(current))).toMatchObject({ kind: 'refused' });
  });

  it('the same announcement again is answered as before, and again after the pin changed', () => {
    const pin = ServerKeyPin.open(fresh());
    expect(pin.accept(announce(current))).toEqual({ kind: 'pinned', kid: current.kid });
    expect(pin.accept(announce(current))).toEqual({ kind: 'unchanged' });
    expect(pin.accept(announce(current))).toEqual({ kind: 'unchanged' });
    expect(pin.accept(announce(current, next))).toEqual({ kind: 'next-recorded', kid: next.kid });
    expect(pin.accept(announce(current, next))).toEqual({ kind: 'unchanged' });
    expect(pin.accept(announce(next))).toEqual({ kind: 'rotated', kid: next.kid });
    // The key answered "unchanged" before is not the pinned one any more.
    expect(pin.accept(announce(current))).toMatchObject({ kind: 'refused', offeredKid: current.kid });
    expect(pin.accept(announce(next))).toEqual({ kind: 'unchanged' });
    expect(pin.accept({ ...announce(next), nextSigningKey: 'not a key' })).toEqual({ kind: 'unchanged' });
  });

  it('a configured key seeds the pin only when there is none yet', () => {
    const dir = fresh();
    const configured = readConfiguredKey(current.publicKey)!;
    expect(kids(ServerKeyPin.open(dir, configured))).toEqual([current.kid]);
    expect(ServerKeyPin.open(dir, configured).accept(announce(stranger))).toMatchObject({ kind: 'refused' });
    expect(kids(ServerKeyPin.open(dir, parsePublicKey(next.publicKey)))).toEqual([current.kid]);
    expect(readConfiguredKey('junk')).toBeUndefined();
    expect(readConfiguredKey(join(dir, SERVER_KEY_PIN_FILE))).toBeDefined();
  });
});
