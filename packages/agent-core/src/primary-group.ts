/**
 * A user's primary group name on this host (`id -gn USER`, which asks NSS like getent). Used by
 * the host policy: a policy listing users but no groups allows only a user's primary group.
 * No shell: the name goes to `id` as one argument, after `--`. execFileSync rather than execa: a
 * one-shot synchronous read needs nothing execa adds.
 */
import { execFileSync } from 'node:child_process';

export function systemPrimaryGroup(user: string): string | undefined {
  try {
    const out = execFileSync('id', ['-gn', '--', user], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return out.length > 0 ? out : undefined;
  } catch {
    return undefined;
  }
}
