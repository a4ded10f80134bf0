import { machine } from 'node:os';
import { BUILD_SERVER_ADDR, EXIT_CODES, VERSION, versionLine } from '@aspire/agent-core';
import { describe, expect, it } from 'vitest';

describe('build info', () => {
  it('running from source: the dev version and no compiled-in server', () => {
    expect(VERSION).toBe('0.0.0-dev');
    expect(BUILD_SERVER_ADDR).toBe('');
  });

  it('the one --version line: NAME VERSION (node X.Y.Z, ARCH as the kernel names it)', () => {
    expect(versionLine('boot')).toBe(`boot 0.0.0-dev (node ${process.versions.node}, ${machine()})`);
    expect(versionLine('BasicAgent')).toMatch(/^BasicAgent \S+ \(node 24\.\d+\.\d+, (x86_64|aarch64)\)$/);
  });

  it('exit codes shared by the programs', () => {
    expect(EXIT_CODES).toEqual({ OK: 0, FAILURE: 1, USAGE: 2, RUNNING: 3 });
  });
});
