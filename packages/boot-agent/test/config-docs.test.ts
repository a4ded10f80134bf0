// boot.json's keys are declared once (src/config/boot-config-schema.ts): the checker takes its
// key lists, bounds and defaults from there, and docs/boot-agent.md's table must be what the
// schemas give.
import { join } from 'node:path';
import { docTableDrift } from '@aspire/agent-core/config-doc-table';
import { describe, expect, it } from 'vitest';
import {
  BOOT_CONFIG_DOC,
  BOOT_CONFIG_SCHEMA,
  POLICY_OBJECT_SCHEMA,
  SUPERVISION_SCHEMA,
} from '../src/config/boot-config-schema.ts';
import { checkBootConfig } from '../src/config/boot-config.ts';

const DOC = join(import.meta.dirname, '../../../docs/boot-agent.md');

describe('boot.json schema', () => {
  it('the docs table is generated from the schemas (scripts/config-docs.mjs fixes a drift)', () => {
    expect(docTableDrift(DOC, 'boot.json', BOOT_CONFIG_DOC)).toBeUndefined();
  });

  it('defaults come from the schemas', () => {
    const { config } = checkBootConfig({}, 't');
    expect(config.step).toBe(BOOT_CONFIG_SCHEMA.step.default);
    expect(config.logLevel).toBe(BOOT_CONFIG_SCHEMA.logLevel.default);
    expect(config.policy).toBe(POLICY_OBJECT_SCHEMA.file.default);
    expect(config.desiredState.fullCheckSec).toBe(POLICY_OBJECT_SCHEMA.fullCheckSec.default);
    for (const [key, spec] of Object.entries(SUPERVISION_SCHEMA))
      expect(config.supervision[key as keyof typeof config.supervision], key).toBe(spec.default);
  });

  it('every declared key is known to the checker; a key not declared is refused', () => {
    const raw = { step: 60, logLevel: 'warn', supervision: { maxStrikes: 2.6 }, policy: { fullCheckSec: 5 } };
    const { config } = checkBootConfig(raw, 't');
    expect(config.supervision.maxStrikes).toBe(3);
    expect(config.desiredState.fullCheckSec).toBe(5);
    expect(() => checkBootConfig({ stepp: 1 }, 't')).toThrow(/stepp: unknown key/);
    expect(() => checkBootConfig({ policy: { cron: 'x' } }, 't')).toThrow(/policy\.cron: unknown key/);
  });
});
