/**
 * Signed jobs and command frames (docs/security.md "Signed jobs and command frames").
 *
 * The server signs each job of a status reply and each command frame of the hub with Ed25519.
 * A signed object carries four fields besides its own:
 *   agentsn  the target host (a frame to a channel that sent no agentsn: its hostname)
 *   expires  epoch milliseconds after which it must not start
 *   kid      the signing key's id (first 16 hex digits of SHA-256 of its SPKI DER)
 *   sig      base64 Ed25519 signature of `aspire-<purpose>-v1\n` + canonical JSON of the
 *            object without `sig` (so content, id, agentsn, expires and kid are all covered)
 * The purpose prefix keeps a signed job from being replayed as a frame and the other way round.
 *
 * Shared by the server (signing) and both agents (verifying): one canonical form for all.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { ErrorCode, ErrorMessage, type ErrorCodeName } from './error-codes.ts';

/**
 * `revoke`: an entry of a status reply's `revoke` list (a job to abort), never mistaken for a job or a frame.
 * `policy`: a host's effective desired-state policy (GET /api/v1/agent/policy, docs/lifecycle.md).
 */
export type SigningPurpose = 'job' | 'frame' | 'key-rotation' | 'revoke' | 'policy';

/** The fields a signed object carries besides its own. */
export type SignatureFields = {
  agentsn: string;
  expires: number;
  kid: string;
  sig: string;
};

/** Default validity of a signed job in a status reply. */
export const SIGNED_JOB_VALIDITY_MS = 10 * 60_000;
/** Added to a command's own deadline for the validity of its signed frame. */
export const SIGNED_FRAME_MARGIN_MS = 60_000;
/** An object valid for longer than this is refused whatever its signature (bounds the replay cache). */
export const MAX_SIGNED_VALIDITY_MS = 2 * 86_400_000;

/**
 * Canonical JSON: object keys sorted (code-unit order), no whitespace, `undefined` members left
 * out (as JSON.stringify does). Non-finite numbers and values JSON cannot carry throw: a signer
 * never signs something the wire would change.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot encode ${typeof value}`);
  }
}

/**
 * The domain-separation prefix of every signed text: a signature made for one purpose (a job,
 * a frame, a revoke, ...) never verifies as another's.
 */
export function signingPrefix(purpose: SigningPurpose): string {
  return `aspire-${purpose}-v1\n`;
}

/** The bytes that are signed: purpose prefix plus the canonical form without `sig`. */
export function signingInput(purpose: SigningPurpose, value: Record<string, unknown>): Buffer {
  const { sig: _sig, ...rest } = value;
  return Buffer.from(`${signingPrefix(purpose)}${canonicalJson(rest)}`, 'utf8');
}

function toPublic(key: KeyObject): KeyObject {
  return key.type === 'public' ? key : createPublicKey(key);
}

/** Base64 of the SPKI DER of an Ed25519 public key: how keys travel and are pinned. */
export function publicKeyBase64(key: KeyObject): string {
  return toPublic(key).export({ type: 'spki', format: 'der' }).toString('base64');
}

/** An Ed25519 public key from base64 SPKI DER or PEM text; undefined when it is not one. */
export function parsePublicKey(text: string): KeyObject | undefined {
  const t = text.trim();
  try {
    const key = t.startsWith('-----BEGIN')
      ? createPublicKey(t)
      : createPublicKey({ key: Buffer.from(t, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ed25519' ? key : undefined;
  } catch {
    return undefined;
  }
}

/** Key id: first 16 hex digits of SHA-256 of the SPKI DER. */
export function keyId(key: KeyObject): string {
  return createHash('sha256')
    .update(toPublic(key).export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

export interface Signer {
  readonly kid: string;
  /** Base64 SPKI DER of the public key. */
  readonly publicKey: string;
  /** The object with agentsn, expires, kid and sig set (any such fields it had are replaced). */
  sign<T extends Record<string, unknown>>(
    purpose: SigningPurpose,
    value: T,
    target: string,
    expiresMs: number,
  ): T & SignatureFields;
  /** A detached signature of arbitrary text (the rotation announcement of the next key). */
  signText(purpose: SigningPurpose, text: string): string;
  /**
   * The private key, for a worker thread of the same process that signs a large fan-out's frames
   * off the event loop (server hub, frame-sign-worker.ts); never written anywhere.
   */
  readonly privateKey?: KeyObject;
}

/** A signer from an Ed25519 private key (KeyObject or PEM text). */
export function createSigner(privateKey: KeyObject | string): Signer {
  const priv = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  if (priv.asymmetricKeyType !== 'ed25519')
    throw new Error(`signing key must be Ed25519, got ${priv.asymmetricKeyType ?? 'unknown'}`);
  const pub = createPublicKey(priv);
  const kid = keyId(pub);
  return {
    kid,
    publicKey: publicKeyBase64(pub),
    privateKey: priv,
    sign(purpose, value, target, expiresMs) {
      const unsigned: Record<string, unknown> = { ...value, agentsn: target, expires: Math.floor(expiresMs), kid };
      delete unsigned.sig;
      const sig = sign(null, signingInput(purpose, unsigned), priv).toString('base64');
      return { ...unsigned, sig } as typeof value & SignatureFields;
    },
    signText(purpose, text) {
      return sign(null, Buffer.from(`${signingPrefix(purpose)}${text}`, 'utf8'), priv).toString('base64');
    },
  };
}

/** A fresh Ed25519 private key as PKCS#8 PEM. */
export function generateSigningKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Verify a detached signature made with Signer.signText. */
export function verifyText(purpose: SigningPurpose, text: string, sig: string, key: KeyObject): boolean {
  try {
    return verify(null, Buffer.from(`${signingPrefix(purpose)}${text}`, 'utf8'), key, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}

export type SignatureRefusal = Extract<
  ErrorCodeName,
  | 'SIGNATURE_MISSING'
  | 'SIGNATURE_INVALID'
  | 'SIGNATURE_EXPIRED'
  | 'SIGNATURE_REPLAYED'
  | 'SIGNATURE_WRONG_TARGET'
  | 'SIGNATURE_NO_PINNED_KEY'
>;

export type VerifyOutcome =
  | { ok: true; kid: string; expires: number }
  | { ok: false; code: SignatureRefusal; errcode: number; reason: string };

export interface VerifyOptions {
  /** The pinned server keys (current first, then an announced next key during a rotation). */
  keys: readonly KeyObject[];
  /** This host's identity: its agentsn (a channel that sent none: its hostname). */
  agentsn: string;
  nowMs: number;
}

function refuse(code: SignatureRefusal, detail: string): VerifyOutcome {
  return { ok: false, code, errcode: ErrorCode[code], reason: `${ErrorMessage[code]}: ${detail}` };
}

/**
 * Check one signed job or frame: signature by a pinned key over exactly what arrived, addressed
 * to this host, not expired. Replays are the caller's (the job journal, the frame cache).
 */
export function verifySigned(purpose: SigningPurpose, value: unknown, opts: VerifyOptions): VerifyOutcome {
  if (opts.keys.length === 0) return refuse('SIGNATURE_NO_PINNED_KEY', 'this host has no pinned server key');
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return refuse('SIGNATURE_MISSING', 'not an object');
  const v = value as Record<string, unknown>;
  if (typeof v.sig !== 'string' || v.sig.length === 0) return refuse('SIGNATURE_MISSING', 'no sig');
  if (
    typeof v.kid !== 'string' ||
    typeof v.agentsn !== 'string' ||
    typeof v.expires !== 'number' ||
    !Number.isFinite(v.expires)
  ) {
    return refuse('SIGNATURE_MISSING', 'sig without kid, agentsn and expires');
  }
  let input: Buffer;
  try {
    input = signingInput(purpose, v);
  } catch (err) {
    return refuse('SIGNATURE_INVALID', (err as Error).message);
  }
  const sig = Buffer.from(v.sig, 'base64');
  const key = opts.keys.find((k) => keyId(k) === v.kid);
  if (!key) return refuse('SIGNATURE_INVALID', `key ${v.kid} is not the pinned server key`);
  let good = false;
  try {
    good = verify(null, input, key, sig);
  } catch {
    good = false;
  }
  if (!good) return refuse('SIGNATURE_INVALID', 'signature does not match the content');
  // Signature first: the fields below are only worth reading once they are the server's.
  if (v.agentsn !== opts.agentsn)
    return refuse('SIGNATURE_WRONG_TARGET', `addressed to ${v.agentsn}, this host is ${opts.agentsn}`);
  if (v.expires <= opts.nowMs) return refuse('SIGNATURE_EXPIRED', `expired at ${new Date(v.expires).toISOString()}`);
  if (v.expires - opts.nowMs > MAX_SIGNED_VALIDITY_MS)
    return refuse('SIGNATURE_INVALID', 'valid for longer than the protocol allows');
  return { ok: true, kid: v.kid, expires: v.expires };
}

/**
 * Pinned keys as stored on a host (`identity/server-signing.pub` in the BootAgent's state dir):
 * one key a line (base64 SPKI DER), the current one first, then a next key announced for a
 * rotation; blank lines and `#` comments ignored.
 */
export function parsePinFile(text: string): KeyObject[] {
  const keys: KeyObject[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const k = parsePublicKey(t);
    if (k) keys.push(k);
  }
  return keys;
}

/** The wire form of the server's keys (register reply, status reply, GET /agent/signing-key). */
export interface SigningKeyAnnouncement {
  /** Base64 SPKI DER of the key signing now. */
  signingKey: string;
  /** During a rotation: the key that signs next, endorsed by the current one. */
  nextSigningKey?: string;
  /** signText('key-rotation', nextSigningKey) by the current key. */
  nextSigningKeySig?: string;
}
