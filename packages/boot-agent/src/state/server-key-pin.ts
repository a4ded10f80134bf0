/**
 * The server's signing key as this host pins it (docs/security.md "Signed jobs and command
 * frames"): `identity/server-signing.pub` in the state dir, one base64 SPKI key a line, the
 * current key first, then a next key the current one endorsed for a rotation. The BasicAgent
 * reads the same file (its `serverPublicKey`).
 *
 * Where the pin comes from: boot.json `serverPublicKey` when the file does not exist yet (the
 * install's trust anchor), else the first register (or status) reply that announces a key. After
 * that a different key is never taken silently: it must be the pinned next key (the rotation),
 * anything else is refused (SIGNATURE_KEY_CHANGED) and the pin kept.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import {
  ErrorCode,
  ErrorMessage,
  keyId,
  parsePinFile,
  parsePublicKey,
  publicKeyBase64,
  verifyText,
  type SigningKeyAnnouncement,
} from '@aspire/protocol';

export const SERVER_KEY_PIN_FILE = join('identity', 'server-signing.pub');

export type PinOutcome =
  | { kind: 'none' | 'unchanged' }
  | { kind: 'pinned' | 'next-recorded' | 'rotated'; kid: string }
  | { kind: 'refused'; errcode: number; message: string; offeredKid?: string };

/** A configured key: base64 SPKI DER or PEM text, or an absolute path of a file holding one. */
export function readConfiguredKey(value: string): KeyObject | undefined {
  if (isAbsolute(value)) {
    try {
      return parsePinFile(readFileSync(value, 'utf8'))[0] ?? parsePublicKey(readFileSync(value, 'utf8'));
    } catch {
      return undefined;
    }
  }
  return parsePublicKey(value);
}

export class ServerKeyPin {
  private pinned: KeyObject[];
  readonly path: string;
  /**
   * The last announcement that changed nothing, as received. Every status reply carries the
   * same one: it is answered from this, without parsing a key or hashing it on each push. The
   * answer depends only on the announcement and the pin, so it holds until write() changes the pin.
   */
  private unchangedSeen: string | undefined;

  private constructor(path: string, keys: KeyObject[]) {
    this.path = path;
    this.pinned = keys;
  }

  /** Read the pin (or seed it from the configured key when there is none yet). */
  static open(stateDir: string, configured?: KeyObject): ServerKeyPin {
    const path = join(stateDir, SERVER_KEY_PIN_FILE);
    const keys = existsSync(path) ? parsePinFile(readFileSync(path, 'utf8')) : [];
    const pin = new ServerKeyPin(path, keys);
    if (keys.length === 0 && configured) pin.write([configured]);
    return pin;
  }

  /** Every key a signature may be made with: the current one, then an endorsed next one. */
  keys(): readonly KeyObject[] {
    return this.pinned;
  }

  get currentKid(): string | undefined {
    return this.pinned[0] ? keyId(this.pinned[0]) : undefined;
  }

  /** Take what a register or status reply announces; see the file comment for the rules. */
  accept(a: Partial<SigningKeyAnnouncement>): PinOutcome {
    if (typeof a.signingKey !== 'string') return { kind: 'none' };
    const seen = JSON.stringify([a.signingKey, a.nextSigningKey, a.nextSigningKeySig]);
    if (seen === this.unchangedSeen) return { kind: 'unchanged' };
    const offered = parsePublicKey(a.signingKey);
    if (!offered) return this.refusal(`announced signing key is not an Ed25519 public key`);
    const offeredKid = keyId(offered);
    const endorsedNext = (): KeyObject | undefined => {
      if (typeof a.nextSigningKey !== 'string' || typeof a.nextSigningKeySig !== 'string') return undefined;
      const next = parsePublicKey(a.nextSigningKey);
      return next && verifyText('key-rotation', a.nextSigningKey, a.nextSigningKeySig, offered) ? next : undefined;
    };
    const [current, pinnedNext] = this.pinned;
    if (!current) {
      const next = endorsedNext();
      this.write(next ? [offered, next] : [offered]);
      return { kind: 'pinned', kid: offeredKid };
    }
    if (keyId(current) === offeredKid) {
      const next = endorsedNext();
      if (next && (!pinnedNext || keyId(pinnedNext) !== keyId(next))) {
        this.write([current, next]);
        return { kind: 'next-recorded', kid: keyId(next) };
      }
      this.unchangedSeen = seen;
      return { kind: 'unchanged' };
    }
    if (pinnedNext && keyId(pinnedNext) === offeredKid) {
      const next = endorsedNext();
      this.write(next ? [offered, next] : [offered]);
      return { kind: 'rotated', kid: offeredKid };
    }
    return {
      ...this.refusal(`the server announced key ${offeredKid}, this host pinned ${keyId(current)}; kept the pin`),
      offeredKid,
    };
  }

  private refusal(detail: string): Extract<PinOutcome, { kind: 'refused' }> {
    return {
      kind: 'refused',
      errcode: ErrorCode.SIGNATURE_KEY_CHANGED,
      message: `${ErrorMessage.SIGNATURE_KEY_CHANGED}: ${detail}`,
    };
  }

  /** Whole or not at all (temp file, fsync, rename in the same directory); 0644: a public key. */
  private write(keys: KeyObject[]): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const text = `# server signing keys pinned by the BootAgent: current, then the next one during a rotation\n${keys.map(publicKeyBase64).join('\n')}\n`;
    const tmp = `${this.path}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    this.pinned = keys;
    this.unchangedSeen = undefined;
  }
}
