// basic.json's keys are declared once (src/config-schema.ts): the checker takes its key list and
// defaults from there, and docs/basic-agent.md's table must be what the schema gives.
import { join } from 'node:path';
import { docTableDrift } from '@aspire/agent-core/config-doc-table';
import { describe, expect, it } from 'vitest';
import { BASIC_CONFIG_DOC, BASIC_CONFIG_SCHEMA, checkConfig } from '../src/config.ts';

const DOC = join(import.meta.dirname, '../../../docs/basic-agent.md');

describe('basic.json schema', () => {
  it('the docs table is generated from the schema (scripts/config-docs.mjs fixes a drift)', () => {
    expect(docTableDrift(DOC, 'basic.json', BASIC_CONFIG_DOC)).toBeUndefined();
  });

  it('every default comes from the schema; every key of the schema is known to the checker', () => {
    const c = checkConfig({ ca: '/etc/ca.pem' }, 'test');
    for (const [key, spec] of Object.entries(BASIC_CONFIG_SCHEMA)) {
      if (spec.type === 'optional-string') expect(key in c, key).toBe(false);
      else if (key !== 'ca') expect(c[key as keyof typeof c], key).toBe(spec.default);
    }
    const all = Object.fromEntries(
      Object.entries(BASIC_CONFIG_SCHEMA).map(([k, s]) => [k, s.type === 'number' ? s.default : 'x']),
    );
    expect(() =>
      checkConfig({ ...all, ca: '/etc/ca.pem', timezone: 'UTC', logLevel: 'info', policy: '/p' }, 't'),
    ).not.toThrow();
  });

  it('a number out of its bounds is clamped to them, a wrong type is named', () => {
    const c = checkConfig({ ca: '/c', concurrency: 9999 }, 't');
    expect(c.concurrency).toBe(BASIC_CONFIG_SCHEMA.concurrency.max);
    expect(() => checkConfig({ ca: '/c', queueMax: 'many' }, 't')).toThrow(/queueMax: must be a number/);
  });
});
