// The server config's keys are declared once (src/config-schema.ts, hub/hub-options.ts): the
// checker takes its key lists, bounds and defaults from there, docs/server.md's table must be
// what the schemas give, and the hub's settings live in the config file with the flags over them.
import { join } from 'node:path';
import type { ConfigError } from '@aspire/agent-core';
import { docTableDrift } from '@aspire/agent-core/config-doc-table';
import { describe, expect, it } from 'vitest';
import { checkConfig } from '../src/config.ts';
import { RATE_LIMIT_SCHEMA, SERVER_CONFIG_DOC, SERVER_CONFIG_SCHEMA } from '../src/config-schema.ts';
import { CLUSTER_CONFIG_DOC } from '../src/cluster/cluster-config.ts';
import { hubFlagsOver } from '../src/hub/hub-main.ts';
import { HUB_SCHEMA } from '../src/hub/hub-options.ts';

const DOC = join(import.meta.dirname, '../../../docs/server.md');

const problems = (raw: Record<string, unknown>): string => {
  try {
    checkConfig(raw, 't');
  } catch (err) {
    return (err as ConfigError).problems.join('\n');
  }
  return '';
};

describe('server config schema', () => {
  it('the docs table is generated from the schemas (scripts/config-docs.mjs fixes a drift)', () => {
    expect(docTableDrift(DOC, 'server', SERVER_CONFIG_DOC)).toBeUndefined();
    expect(docTableDrift(join(DOC, '../scale.md'), 'cluster', CLUSTER_CONFIG_DOC)).toBeUndefined();
  });

  it('defaults come from the schemas', () => {
    const { config } = checkConfig({}, 't');
    for (const [key, spec] of Object.entries(SERVER_CONFIG_SCHEMA))
      if (spec.type === 'number' || spec.type === 'string')
        expect(config[key as keyof typeof config], key).toBe(spec.default);
    for (const [key, spec] of Object.entries(RATE_LIMIT_SCHEMA))
      expect(config.rateLimit[key as keyof typeof config.rateLimit], key).toBe(spec.default);
    expect(config.hub).toBeUndefined();
  });

  it('the hub settings in the file: defaults, bounds, every problem named hub.KEY', () => {
    const { config, notes } = checkConfig(
      { hub: { listen: '127.0.0.1:0', cert: '/c.pem', key: '/k.pem', idleTimeoutMs: 1 } },
      't',
    );
    expect(config.hub?.listen).toBe('127.0.0.1:0');
    expect(config.hub?.idleTimeoutMs).toBe(HUB_SCHEMA.idleTimeoutMs.min);
    expect(config.hub?.handshakeTimeoutMs).toBe(HUB_SCHEMA.handshakeTimeoutMs.default);
    expect(notes.join('\n')).toMatch(/hub\.idleTimeoutMs: 1 clamped to 500/);
    const text = problems({ hub: { listen: 'nowhere', bogus: 1, maxBadFrames: 'x' } });
    for (const p of [
      'hub.bogus: unknown key',
      'hub.maxBadFrames: must be a number',
      'hub.listen: "nowhere" is not host:port',
      'hub.cert: required',
    ])
      expect(text).toContain(p);
    expect(problems({ hub: 'on' })).toContain('hub: must be an object');
  });

  it('the --hub-* flags win over the file keys; without flags the file stands', () => {
    const file = { listen: '127.0.0.1:1', cert: '/c', key: '/k', idleTimeoutMs: 5000 };
    expect(hubFlagsOver(file, {})).toBe(file);
    expect(hubFlagsOver(undefined, {})).toBeUndefined();
    expect(hubFlagsOver(file, { hubListen: '127.0.0.1:2', hubIdleTimeoutMs: '7000' })).toEqual({
      ...file,
      listen: '127.0.0.1:2',
      idleTimeoutMs: 7000,
    });
    expect(hubFlagsOver(undefined, { hubListen: '[::1]:0', hubCert: '/c', hubKey: '/k' })).toEqual({
      listen: '[::1]:0',
      cert: '/c',
      key: '/k',
    });
  });
});
