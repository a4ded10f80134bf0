/**
 * Operator signatures of sync.bash commands (`opsig`, docs/security.md "The host policy file").
 *
 * A host whose policy sets `requireOperatorSignature` runs a command only when the frame also
 * carries an Ed25519 signature, made with an operator's own key (not the server's), over the
 * command, the run-as user and group, the target hosts and an expiry. The server cannot forge
 * one: it only passes the `opsig` the operator gave through to the frame.
 *
 * Wire form: `opsig: {hosts: [agentsn...], exp: <unix seconds>, sig: <base64>}`. One signature
 * serves a whole Polaris fan-out: each host checks that its own agentsn is in `hosts`.
 * Public keys travel as base64 of the 32 raw Ed25519 bytes (what `operatorPublicKeyBase64` prints).
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export interface OperatorSignature {
  hosts: string[];
  exp: number;
  sig: string;
}

/** What an operator signature covers: the command as the agent will run it. */
export interface SignedCommand {
  cmd: string;
  /** Run-as user; absent means root (the agent's default). */
  user?: string;
  group?: string;
}

const DOMAIN = 'aspire-opsig-v1';

/** The exact bytes signed: a JSON array in a fixed order (no key-order ambiguity). */
export function operatorSignaturePayload(c: SignedCommand, hosts: readonly string[], exp: number): Buffer {
  return Buffer.from(JSON.stringify([DOMAIN, c.cmd, c.user ?? 'root', c.group ?? null, [...hosts], exp]), 'utf8');
}

/** Sign a command for the given hosts until `exp` (unix seconds). `privateKey`: a KeyObject or PEM. */
export function signOperatorCommand(privateKey: KeyObject | string, c: SignedCommand, hosts: readonly string[], exp: number): OperatorSignature {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  const sig = sign(null, operatorSignaturePayload(c, hosts, exp), key).toString('base64');
  return { hosts: [...hosts], exp, sig };
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

export type OperatorSignatureCheck = { ok: true; keyIndex: number } | { ok: false; reason: string };

/**
 * Check an `opsig` from a frame: well-formed, not expired at `nowSec`, naming `agentsn`, and made
 * by one of `keys` over exactly this command. The reason says which of these failed.
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
    typeof o.sig !== 'string'
  ) {
    return { ok: false, reason: 'opsig malformed: needs {hosts: string[], exp: number, sig: base64}' };
  }
  if (o.exp < nowSec) return { ok: false, reason: `opsig expired at ${new Date(o.exp * 1000).toISOString()}` };
  if (!agentsn) return { ok: false, reason: 'this host does not know its agentsn yet, so no opsig can name it' };
  if (!o.hosts.includes(agentsn)) return { ok: false, reason: `opsig does not name this host (${agentsn})` };
  const payload = operatorSignaturePayload(c, o.hosts, o.exp);
  const sig = Buffer.from(o.sig, 'base64');
  for (let i = 0; i < keys.length; i++) {
    try {
      if (verify(null, payload, keys[i]!, sig)) return { ok: true, keyIndex: i };
    } catch {
      /* a malformed signature verifies against no key */
    }
  }
  return { ok: false, reason: 'opsig does not verify against any operator key of the policy (wrong key, or signed over another command, user or host list)' };
}
