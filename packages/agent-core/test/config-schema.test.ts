// Config keys declared once (config-schema.ts): the checker's key list, defaults, bounds and
// type checks, and the docs table (config-doc-table.ts), all from one schema object.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigChecker } from '../src/config-check.ts';
import { configDocTable, docTableDrift, docTableOf, withDocTable } from '../src/config-doc-table.ts';
import { checkSchema, schemaBounds, schemaKeys, type ConfigSchema } from '../src/config-schema.ts';

const SCHEMA = {
  port: { type: 'number', min: 1, max: 65535, default: 8080, integer: true, doc: 'the port' },
  name: { type: 'string', default: 'x', check: (v) => (v.length > 3 ? 'too long' : undefined), doc: 'a name' },
  note: { type: 'optional-string', doc: 'a note | with a pipe' },
  on: { type: 'boolean', default: false, doc: 'a switch' },
  list: { type: 'own', docDefault: '`[]`', doc: 'checked elsewhere' },
} as const satisfies ConfigSchema;

const dir = mkdtempSync(join(tmpdir(), 'config-schema-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('config schema', () => {
  it('defaults for absent keys; an absent optional string is left out', () => {
    const c = new ConfigChecker({}, schemaKeys(SCHEMA));
    expect(checkSchema(c, SCHEMA)).toEqual({ port: 8080, name: 'x', on: false });
    expect(c.problems).toEqual([]);
  });

  it('clamps and rounds numbers (noted), names every wrong type and failed check, and unknown keys', () => {
    const c = new ConfigChecker({ port: 70000.4, name: 'long', note: 3, on: 'yes', extra: 1 }, schemaKeys(SCHEMA));
    const v = checkSchema(c, SCHEMA);
    expect(v.port).toBe(65535);
    expect(c.notes).toEqual(['port: 70000.4 clamped to 65535 (allowed 1..65535)']);
    expect(c.problems.sort()).toEqual(
      [
        'extra: unknown key',
        'name: too long',
        'note: must be a string, got 3',
        'on: must be true or false, got "yes"',
      ].sort(),
    );
    expect(schemaBounds(SCHEMA)).toEqual({ port: { min: 1, max: 65535, default: 8080 } });
  });

  it('the docs table: short form and with type and bounds columns; pipes escaped', () => {
    const short = configDocTable({ sections: [{ prefix: '', schema: SCHEMA }] });
    expect(short.split('\n')[2]).toMatch(/^\| `port` +\| 8080 \(1\.\.65535\) +\| the port +\|$/);
    expect(short).toContain('a note \\| with a pipe');
    const full = configDocTable({
      columns: ['type', 'default', 'bounds'],
      sections: [{ prefix: 'sub.', schema: SCHEMA }],
    });
    expect(full.split('\n')[0]).toMatch(/^\| key +\| type +\| default +\| bounds +\| meaning +\|$/);
    expect(full).toMatch(/\| `sub\.port` +\| integer +\| 8080 +\| 1\.\.65535 +\|/);
  });

  it('a doc whose table differs from the schema is reported; rewriting it fixes that', () => {
    const doc = { sections: [{ prefix: '', schema: SCHEMA }] };
    const path = join(dir, 'doc.md');
    writeFileSync(path, '# x\n\n<!-- config-table t -->\n| old |\n<!-- /config-table -->\n\nafter\n');
    expect(docTableDrift(path, 't', doc)).toMatch(/differs from its schema/);
    expect(docTableDrift(path, 'missing', doc)).toMatch(/no config-table missing markers/);
    const fixed = withDocTable(readFileSync(path, 'utf8'), 't', configDocTable(doc));
    writeFileSync(path, fixed);
    expect(docTableDrift(path, 't', doc)).toBeUndefined();
    expect(docTableOf(fixed, 't')).toBe(configDocTable(doc));
    expect(fixed.endsWith('\n\nafter\n')).toBe(true);
  });
});
