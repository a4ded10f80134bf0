import { execFileSync } from 'node:child_process';
import { systemPrimaryGroup } from '@aspire/agent-core';
import { describe, expect, it } from 'vitest';

describe('systemPrimaryGroup', () => {
  it('answers what `id -gn` answers for a real user', () => {
    const me = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
    expect(systemPrimaryGroup(me)).toBe(execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim());
    expect(systemPrimaryGroup('root')).toBe('root');
  });

  it('is undefined for an unknown user, and a name that looks like a flag is a name', () => {
    expect(systemPrimaryGroup('no-such-user-aspire-test')).toBeUndefined();
    expect(systemPrimaryGroup('--help')).toBeUndefined();
    expect(systemPrimaryGroup('-a')).toBeUndefined();
  });
});
