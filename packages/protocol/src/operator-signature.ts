/**
 * Operator signatures of sync.bash commands (`opsig`, docs/security.md "The host policy file").
 *
 * A host whose policy sets `requireOperatorSignature` runs a command only when the frame also
 * carries an Ed25519 signature, made with an operator's own key (not the server's), over the
 * method, the command, the run-as user and group, the timeout (sync.bash) or the task name
 * (task.add), the target hosts, an expiry and a random nonce. The server cannot forge one: it
 * only passes the `opsig` the operator gave through to the frame. Each host runs a nonce once
 * (the BasicAgent remembers it until `exp`), so a captured signature cannot be replayed.
 *
 * Wire form: `opsig: {hosts: [agentsn...], exp: <unix seconds>, nonce: <string>, sig: <base64>}`.
 * One signature serves a whole Polaris fan-out: each host checks that its own agentsn is in `hosts`.
 * Public keys travel as base64 of the 32 raw Ed25519 bytes (what `operatorPublicKeyBase64` prints).
 */
import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { SYNC_BASH_DEFAULT_TIMEOUT_S } from './channel-wire.ts';

export interface OperatorSignature {
  hosts: string[];
  exp: number;
  /** Random, unique per signature: a host accepts it once (until `exp`). */
  nonce: string;
  sig: string;
}

/** What an operator signature covers: the request as the agent will carry it out. */
export type SignedCommand =
  | {
      method: 'sync.bash';
      cmd: string;
      /** Run-as user; absent means root (the agent's default). */
      user?: string;
      group?: string;
      /** Seconds; absent means SYNC_BASH_DEFAULT_TIMEOUT_S (what the server puts in the frame). */
      timeout?: number;
    }
  | {
      method: 'task.add';
      /** The periodic task's name. */
      name: string;
      /** The whole task line (schedule, user, command). */
      line: string;
    };

const DOMAIN = 'aspire-opsig-v2';
const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

/** The exact bytes signed: a JSON array in a fixed order (no key-order ambiguity). */
export function operatorSignaturePayload(
  c: SignedCommand,
  hosts: readonly string[],
  exp: number,
  nonce: string,
): Buffer {
  const fields =
    c.method === 'sync.bash'
      ? [c.method, c.cmd, c.user ?? 'root', c.group ?? null, c.timeout ?? SYNC_BASH_DEFAULT_TIMEOUT_S]
      : [c.method, c.line, c.name];
  return Buffer.from(JSON.stringify([DOMAIN, ...fields, [...hosts], exp, nonce]), 'utf8');
}

/**
 * Sign a request for the given hosts until `exp` (unix seconds), with a fresh random nonce.
 * `privateKey`: a KeyObject or PEM.
 */
export function signOperatorCommand(
  privateKey: KeyObject | string,
  c: SignedCommand,
  hosts: readonly string[],
  exp: number,
): OperatorSignature {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  const nonce = randomBytes(18).toString('base64url');
  const sig = sign(null, operatorSignaturePayload(c, hosts, exp, nonce), key).toString('base64');
  return { hosts: [...hosts], exp, nonce, sig };
}

/** base64 of the 32 raw bytes of an Ed25519 public key (from a KeyObject or PEM). */
export function operatorPublicKeyBase64(publicKey: KeyObject | string): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  const jwk = key.export({ format: 'jwk' }) as { kty?: string; crv?: string; x?: string };
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.x) throw new Error('not an Ed25519 public key');
  return Buffer.from(jwk.x, 'base64url').toString('base64');
}

/** An Ed25519 public key from base64 of its 32 raw bytes; throws on anything else. */
export function operatorPublicKey(base64: string): KeyObject {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(base64)) throw new Error('must be base64 of 32 bytes (an Ed25519 public key)');
  const raw = Buffer.from(base64, 'base64');
  if (raw.length !== 32) throw new Error('must be base64 of 32 bytes (an Ed25519 public key)');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/** A verified signature carries its nonce and expiry: the caller refuses a nonce seen before. */
export type OperatorSignatureCheck =
  | { ok: true; keyIndex: number; nonce: string; exp: number }
  | { ok: false; reason: string };

/**
 * Check an `opsig` from a frame: well-formed, not expired at `nowSec`, naming `agentsn`, and made
 * by one of `keys` over exactly this request. The reason says which of these failed. Replays
 * (the same nonce again) are the caller's to refuse.
 */
export function verifyOperatorSignature(
  opsig: unknown,
  c: SignedCommand,
  agentsn: string | undefined,
  nowSec: number,
  keys: readonly KeyObject[],
): OperatorSignatureCheck {
  if (opsig === undefined) return { ok: false, reason: 'no operator signature (opsig) on the command' };
  const o = opsig as Partial<OperatorSignature> | null;
  if (
    !o ||
    typeof o !== 'object' ||
    !Array.isArray(o.hosts) ||
    !o.hosts.every((h) => typeof h === 'string') ||
    typeof o.exp !== 'number' ||
    !Number.isFinite(o.exp) ||
    typeof o.nonce !== 'string' ||
    !NONCE_PATTERN.test(o.nonce) ||
    typeof o.sig !== 'string'
  ) {
    return {
      ok: false,
      reason: 'opsig malformed: needs {hosts: string[], exp: number, nonce: 16..64 chars [A-Za-z0-9_-], sig: base64}',
    };
  }
  if (o.exp < nowSec) return { ok: false, reason: `opsig expired at ${new Date(o.exp * 1000).toISOString()}` };
  if (!agentsn) return { ok: false, reason: 'this host does not know its agentsn yet, so no opsig can name it' };
  if (!o.hosts.includes(agentsn)) return { ok: false, reason: `opsig does not name this host (${agentsn})` };
  const payload = operatorSignaturePayload(c, o.hosts, o.exp, o.nonce);
  const sig = Buffer.from(o.sig, 'base64');
  for (let i = 0; i < keys.length; i++) {
    try {
      if (verify(null, payload, keys[i]!, sig)) return { ok: true, keyIndex: i, nonce: o.nonce, exp: o.exp };
    } catch {
      /* a malformed signature verifies against no key */
    }
  }
  return {
    ok: false,
    reason:
      'opsig does not verify against any operator key of the policy (wrong key, or signed over another method, command, user, group, timeout, task name, host list or nonce)',
  };
}
