/** Credentials and tokens are stored as SHA-256 digests and compared in constant time. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

export function newCredential(): string {
  return randomBytes(32).toString('base64url');
}

/** Operator tokens carry a prefix so a leaked one is recognisable in a scanner. */
export function newOperatorToken(): string {
  return `asp_${randomBytes(32).toString('base64url')}`;
}
