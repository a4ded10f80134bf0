import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigChecker, ConfigError, deepFreeze, readConfigJson, readConfigObject } from '@aspire/agent-core';
import { AspireError } from '@aspire/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'agent-core-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const BOUND = { min: 1, max: 60, default: 10 };

describe('ConfigChecker', () => {
  it('gives defaults for absent keys, clamps numbers with a note, and freezes the result', () => {
    const c = new ConfigChecker({ a: 0, b: 'x', flag: true }, ['a', 'b', 'flag', 'n', 's']);
    const value = c.finish('test.json', {
      a: c.number('a', BOUND),
      n: c.number('n', BOUND),
      b: c.string('b', 'def'),
      s: c.optionalString('s'),
      flag: c.boolean('flag', false),
      nested: { list: [1] },
    });
    expect(value).toEqual({ a: 1, n: 10, b: 'x', s: undefined, flag: true, nested: { list: [1] } });
    expect(c.notes).toEqual(['a: 0 clamped to 1 (allowed 1..60)']);
    expect(Object.isFrozen(value)).toBe(true);
    expect(Object.isFrozen(value.nested.list)).toBe(true);
  });

  it('collects every bad key and throws one ConfigError naming the source', () => {
    const c = new ConfigChecker({ n: 'five', b: 3, s: 4, flag: 'yes', extra: 1, v: 'bad' }, [
      'n',
      'b',
      's',
      'flag',
      'v',
    ]);
    c.number('n', BOUND);
    c.string('b', '');
    c.optionalString('s');
    c.boolean('flag', false);
    c.string('v', '', (v) => (v === 'bad' ? 'must not be bad' : undefined));
    let err: unknown;
    try {
      c.finish('/etc/x.json', {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toBeInstanceOf(AspireError);
    const ce = err as ConfigError;
    expect(ce.code).toBe('ECONFIG');
    expect(ce.source).toBe('/etc/x.json');
    expect(ce.problems).toEqual([
      'extra: unknown key',
      'n: must be a number, got "five"',
      'b: must be a string, got 3',
      's: must be a string, got 4',
      'flag: must be true or false, got "yes"',
      'v: must not be bad',
    ]);
    expect(ce.message.split('\n')[0]).toBe('invalid config /etc/x.json:');
    expect(ce.message).toContain('\n  - extra: unknown key');
  });

  it('NaN and Infinity are not numbers; rawValue hands a nested object on unchecked', () => {
    const c = new ConfigChecker({ n: Number.NaN, m: Number.POSITIVE_INFINITY, o: { k: 1 } }, ['n', 'm', 'o']);
    expect(c.number('n', BOUND)).toBe(10);
    expect(c.number('m', BOUND)).toBe(10);
    expect(c.rawValue('o')).toEqual({ k: 1 });
    expect(c.problems).toHaveLength(2);
  });

  it('deepFreeze leaves primitives alone', () => {
    expect(deepFreeze(3)).toBe(3);
    expect(deepFreeze(null)).toBe(null);
  });
});

describe('reading config files', () => {
  it('readConfigJson: missing, parsed, or a ConfigError naming the file', () => {
    expect(readConfigJson(join(dir, 'none.json'))).toEqual({ kind: 'missing' });
    const ok = join(dir, 'ok.json');
    writeFileSync(ok, '{"a": 1}');
    expect(readConfigJson(ok)).toEqual({ kind: 'ok', raw: { a: 1 } });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{a}');
    expect(() => readConfigJson(bad)).toThrow(ConfigError);
    expect(() => readConfigJson(bad)).toThrow(/invalid config .*bad\.json:\n {2}- malformed JSON: /);
  });

  it('readConfigObject: the file must exist and hold an object', () => {
    expect(() => readConfigObject(join(dir, 'none.json'))).toThrow('cannot read file: it does not exist');
    const arr = join(dir, 'arr.json');
    writeFileSync(arr, '[1]');
    expect(() => readConfigObject(arr)).toThrow('(top level): must be a JSON object');
    const nul = join(dir, 'null.json');
    writeFileSync(nul, 'null');
    expect(() => readConfigObject(nul)).toThrow('(top level): must be a JSON object');
    const obj = join(dir, 'obj.json');
    writeFileSync(obj, '{"k": "v"}');
    expect(readConfigObject(obj)).toEqual({ k: 'v' });
  });
});
