import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@aspire/agent-core';
import { loadConfig } from '../src/config.ts';

// basic.json goes through agent-core's readConfigObject, like the server's --config: the same
// words for a missing file, malformed JSON and a top level that is not an object.
const dir = mkdtempSync(join(tmpdir(), 'basic-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function failure(path: string): ConfigError {
  try {
    loadConfig(path);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`${path} loaded`);
}

describe('basic.json file', () => {
  it('a missing, malformed or non-object file is a ConfigError naming the file', () => {
    const missing = failure(join(dir, 'none.json'));
    expect(missing.source).toBe(join(dir, 'none.json'));
    expect(missing.problems).toEqual(['cannot read file: it does not exist']);

    writeFileSync(join(dir, 'bad.json'), '{"serverHost": ');
    expect(failure(join(dir, 'bad.json')).problems[0]).toMatch(/^malformed JSON: /);

    for (const text of ['[1]', '"x"', 'null', '3']) {
      writeFileSync(join(dir, 'top.json'), text);
      expect(failure(join(dir, 'top.json')).problems, text).toEqual(['(top level): must be a JSON object']);
    }
  });

  it('a valid file is checked and frozen', () => {
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify({ serverHost: 'hub.example', ca: '/etc/ca.pem', concurrency: 1000 }));
    const cfg = loadConfig(path);
    expect(cfg).toMatchObject({ serverHost: 'hub.example', ca: '/etc/ca.pem', concurrency: 256, serverPort: 8443 });
    expect(Object.isFrozen(cfg)).toBe(true);
  });
});
