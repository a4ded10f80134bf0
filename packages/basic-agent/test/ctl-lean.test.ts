import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * BasicAgentCtl's start stays near a bare node start only while the bundle's main script holds
 * the Ctl alone (docs/basic-agent.md "Start-up"): the daemon and systeminformation are chunks,
 * and the Ctl's modules import error codes and the error base by subpath, never the package
 * indexes (every wire schema, the logger, TLS). esbuild names each module it wraps by its path,
 * so the main script says which modules it carries. Reads the bundles the run built
 * (test/global-setup.ts).
 */
const buildDir = process.env.ASPIRE_BUILD_DIR;

describe('the BasicAgent bundle keeps the Ctl lean', () => {
  it('the main script carries no package index, no daemon and no systeminformation; the chunks do', () => {
    if (!buildDir) throw new Error('ASPIRE_BUILD_DIR is not set (test/global-setup.ts builds the bundles)');
    const main = readFileSync(join(buildDir, 'basic-agent.cjs'), 'utf8');
    // Names the bundles keep (identifiers are not minified): each marks a module the Ctl must not carry.
    for (const [marker, what] of [
      ['TypeCompiler', 'typebox (the wire schemas of @aspire/protocol)'],
      ['createRootLogger', "pino (@aspire/agent-core's index)"],
      ['the TLS command channel', 'the daemon (cli/agent-main.ts, its usage text)'],
      ['node_modules/systeminformation/', "systeminformation's modules"],
    ] as const) {
      expect(main.includes(marker), `${what} is in the Ctl's main script: import by subpath or lazily`).toBe(false);
    }
    expect(main).toContain('ctlMain');
    const daemon = readFileSync(join(buildDir, 'basic-agent.chunk-daemon.cjs'), 'utf8');
    expect(daemon).toContain('the TLS command channel');
    const si = readFileSync(join(buildDir, 'basic-agent.chunk-si.cjs'), 'utf8');
    expect(si).toContain('node_modules/systeminformation/lib/cpu.js');
  });
});
