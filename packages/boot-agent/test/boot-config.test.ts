import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@aspire/agent-core';
import { describe, expect, it } from 'vitest';
import { BOOT_BOUNDS, SUPERVISION_BOUNDS, checkBootConfig, loadBootConfig } from '../src/config/boot-config.ts';

describe('boot.json check', () => {
  it('defaults follow design.md', () => {
    const { config } = checkBootConfig({}, 'test');
    expect(config.step).toBe(600);
    expect(config.supervision).toEqual({
      checkIntervalSec: 60,
      restartHoldSec: 180,
      strikeWindowSec: 900,
      maxStrikes: 3,
      stopTimeoutSec: 10,
      upgradeHealthySec: 30,
      downloadMaxBytes: 512 * 1024 * 1024,
      watchdogIntervalSec: 5,
      cgroupRoot: '/sys/fs/cgroup',
    });
  });

  it('lists every bad key at once', () => {
    let err: ConfigError | undefined;
    try {
      checkBootConfig(
        {
          step: 'soon',
          colour: 'blue',
          logLevel: 'loud',
          hostname: 3,
          supervision: { maxStrikes: 'x', bogus: 1, cgroupRoot: 'rel/path' },
        },
        'boot.json',
      );
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = err!.problems.join('\n');
    for (const key of [
      'colour',
      'step',
      'logLevel',
      'hostname',
      'supervision.maxStrikes',
      'supervision.bogus',
      'supervision.cgroupRoot',
    ]) {
      expect(text).toContain(`${key}:`);
    }
    expect(err!.problems).toHaveLength(7);
  });

  it('clamps numbers to the named bounds and says so; small supervision values stay allowed for tests', () => {
    const { config, notes } = checkBootConfig(
      { step: 0, eventQueueMax: 10 ** 9, supervision: { checkIntervalSec: 0.2, restartHoldSec: 0.5 } },
      't',
    );
    expect(config.step).toBe(BOOT_BOUNDS.step.min);
    expect(config.eventQueueMax).toBe(BOOT_BOUNDS.eventQueueMax.max);
    expect(config.supervision.checkIntervalSec).toBe(0.2);
    expect(config.supervision.restartHoldSec).toBe(0.5);
    expect(notes.join('\n')).toMatch(/step: 0 clamped to 1/);
    expect(SUPERVISION_BOUNDS.checkIntervalSec.min).toBeLessThan(1);
  });

  it('selfUpgrade.healthySec: 60 s by default, clamped to 1..3600, unknown keys and a non-object refused', () => {
    expect(checkBootConfig({}, 'test').config.selfUpgrade).toEqual({ healthySec: 60 });
    const low = checkBootConfig({ selfUpgrade: { healthySec: 0.1 } }, 'test');
    expect(low.config.selfUpgrade.healthySec).toBe(1);
    expect(low.notes.join('\n')).toMatch(/selfUpgrade\.healthySec/);
    expect(checkBootConfig({ selfUpgrade: { healthySec: 1e9 } }, 'test').config.selfUpgrade.healthySec).toBe(3600);
    const bad = (raw: unknown) => {
      try {
        checkBootConfig(raw, 'test');
      } catch (err) {
        return (err as ConfigError).problems.join('\n');
      }
      return '';
    };
    expect(bad({ selfUpgrade: { healthySec: 'soon', window: 3 } })).toMatch(
      /selfUpgrade\.healthySec[\s\S]*selfUpgrade\.window|selfUpgrade\.window[\s\S]*selfUpgrade\.healthySec/,
    );
    expect(bad({ selfUpgrade: 30 })).toMatch(/selfUpgrade: must be an object/);
  });

  it('is frozen', () => {
    const { config } = checkBootConfig({ step: 5 }, 't');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.supervision)).toBe(true);
  });

  it('tags must be key=value pairs (a trailing comma is fine, as in design.md §3)', () => {
    expect(checkBootConfig({ tags: 'svc=ecs,cmpt=DB,' }, 't').config.tags).toBe('svc=ecs,cmpt=DB,');
    expect(() => checkBootConfig({ tags: 'svc=ecs,oops' }, 't')).toThrow(/tags: "oops" is not key=value/);
    expect(() => checkBootConfig({ tags: 'a=b=c' }, 't')).toThrow(/more than one/);
  });

  it('a missing CA file is a bad key', () => {
    expect(() => checkBootConfig({ ca: '/nonexistent/ca.pem' }, 't')).toThrow(
      /ca: file \/nonexistent\/ca.pem does not exist/,
    );
  });

  it('file: malformed JSON and a missing named file are errors; a missing default file means defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'boot-cfg-'));
    writeFileSync(join(dir, 'bad.json'), '{"step": ');
    expect(() => loadBootConfig(join(dir, 'bad.json'), { required: true })).toThrow(/malformed JSON/);
    expect(() => loadBootConfig(join(dir, 'none.json'), { required: true })).toThrow(/cannot read file/);
    const r = loadBootConfig(join(dir, 'none.json'), { required: false });
    expect(r.config.step).toBe(600);
    expect(r.notes[0]).toMatch(/not found: using defaults/);
  });
});
