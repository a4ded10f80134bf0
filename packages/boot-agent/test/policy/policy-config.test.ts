import { ConfigError } from '@aspire/agent-core';
import { describe, expect, it } from 'vitest';
import { checkBootConfig } from '../../src/config/boot-config.ts';

describe('boot.json policy: the host policy file path, or an object that also drives desired state', () => {
  it('a string is the host policy file, with the desired-state defaults', () => {
    const { config } = checkBootConfig({ policy: '/etc/x/policy.json' }, 'boot.json');
    expect(config.policy).toBe('/etc/x/policy.json');
    expect(config.desiredState).toEqual({
      fullCheckSec: 86400,
      crontab: '/etc/basicagent/crontab',
      crontabAgent: 'BasicAgent',
    });
  });

  it('an object sets the file and the convergence; numbers are clamped and said so', () => {
    const { config, notes } = checkBootConfig(
      { policy: { file: '/p.json', fullCheckSec: 0, crontab: '/c/crontab', crontabAgent: 'Basic2' } },
      'boot.json',
    );
    expect(config.policy).toBe('/p.json');
    expect(config.desiredState).toEqual({ fullCheckSec: 1, crontab: '/c/crontab', crontabAgent: 'Basic2' });
    expect(notes.join('\n')).toMatch(/policy\.fullCheckSec: 0 clamped to 1/);
  });

  it('every bad key is named', () => {
    expect(() =>
      checkBootConfig({ policy: { file: 'rel', crontab: 'rel', crontabAgent: '../x', nope: 1 } }, 'boot.json'),
    ).toThrow(ConfigError);
    try {
      checkBootConfig({ policy: { file: 'rel', crontab: 'rel', crontabAgent: '../x', nope: 1 } }, 'boot.json');
    } catch (err) {
      const text = (err as Error).message;
      for (const k of ['policy.nope: unknown key', 'policy.file:', 'policy.crontab:', 'policy.crontabAgent:'])
        expect(text).toContain(k);
    }
    expect(() => checkBootConfig({ policy: 5 }, 'boot.json')).toThrow(
      /policy: must be the host policy file path or an object/,
    );
  });
});
