/**
 * The server's Ed25519 signing key(s): jobs in status replies and command frames of the hub are
 * signed with the current key (docs/security.md "Signed jobs and command frames").
 *
 * Config `signingKeys: [current, next?]` names PKCS#8 PEM files; without it the key lives in
 * `<dataDir>/signing-key.pem`, made on first start (mode 0600, never overwritten). During a
 * rotation the next key is announced to agents, endorsed by the current one, so they can pin it
 * before it signs anything.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { createSigner, generateSigningKeyPem, type Signer, type SigningKeyAnnouncement } from '@aspire/protocol';

export const DEFAULT_SIGNING_KEY_FILE = 'signing-key.pem';

export interface ServerSigning {
  /** Signs with the current key. */
  readonly signer: Signer;
  /** What register and status replies carry (and GET /agent/signing-key answers). */
  readonly announcement: Readonly<SigningKeyAnnouncement>;
}

/**
 * Read a PEM private key; a missing default key is created first: written whole to a temp file
 * (0600, fsync) and linked into place, so a full disk or a crash never leaves a partial key, and
 * two processes racing both end up reading the one that was linked first.
 */
function readOrCreate(path: string, create: boolean): string {
  if (create && !existsSync(path)) {
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, generateSigningKeyPem());
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      linkSync(tmp, path);
    } catch (err) {
      // Another process made it meanwhile: read theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return readFileSync(path, 'utf8');
}

/** Load the signing keys named by config (or the data dir's default key, made when absent). */
export function loadServerSigning(opts: { dataDir: string; signingKeys?: readonly string[] }): ServerSigning {
  const files = opts.signingKeys && opts.signingKeys.length > 0 ? opts.signingKeys : undefined;
  let currentPem: string;
  if (files) currentPem = readFileSync(files[0]!, 'utf8');
  else {
    mkdirSync(opts.dataDir, { recursive: true });
    currentPem = readOrCreate(join(opts.dataDir, DEFAULT_SIGNING_KEY_FILE), true);
  }
  const signer = createSigner(currentPem);
  const announcement: SigningKeyAnnouncement = { signingKey: signer.publicKey };
  if (files && files[1] !== undefined) {
    const next = createSigner(readFileSync(files[1], 'utf8'));
    if (next.kid !== signer.kid) {
      announcement.nextSigningKey = next.publicKey;
      announcement.nextSigningKeySig = signer.signText('key-rotation', next.publicKey);
    }
  }
  return { signer, announcement: Object.freeze(announcement) };
}
