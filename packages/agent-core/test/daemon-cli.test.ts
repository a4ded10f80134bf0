import { daemonProgram, parseDaemonArgs } from '@aspire/agent-core/daemon-cli';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';

const HELP = { log: 'log file', pidfile: 'pidfile', config: 'config file', test: 'check the config and exit' };

/** A daemon program whose help, version and errors are kept instead of printed. */
function program(): { p: Command; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const p = daemonProgram('demo', 'a demo daemon', HELP);
  p.configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  return { p, out, err };
}

describe('the daemons’ common command line', () => {
  it('parses the common flags as given', () => {
    const { p } = program();
    const r = parseDaemonArgs(p, ['-f', '-L', '/var/log/x.log', '-P', '/run/x.pid', '-c', 'rel.json', '-T']);
    expect(r).toEqual({
      kind: 'run',
      flags: { foreground: true, log: '/var/log/x.log', pidfile: '/run/x.pid', config: 'rel.json', test: true },
    });
    expect(parseDaemonArgs(program().p, ['--allow-no-server', '-T'])).toEqual({
      kind: 'run',
      flags: { allowNoServer: true, test: true },
    });
  });

  it('--help and --version exit 0 after printing; the version is the one --version line', () => {
    const h = program();
    expect(parseDaemonArgs(h.p, ['--help'])).toEqual({ kind: 'exit', code: 0 });
    expect(h.out.join('')).toContain('-P, --pidfile <file>');
    const v = program();
    expect(parseDaemonArgs(v.p, ['-V'])).toEqual({ kind: 'exit', code: 0 });
    expect(v.out.join('')).toMatch(/^demo \S+ \(node \d+\.\d+\.\d+, \S+\)\n$/);
  });

  it('an unknown flag, a missing value or a stray argument is a usage error (2) with help after it', () => {
    for (const args of [['--nope'], ['-L'], ['extra']]) {
      const e = program();
      expect(parseDaemonArgs(e.p, args)).toEqual({ kind: 'exit', code: 2 });
      expect(e.err.join('')).toMatch(/^error: /);
    }
  });

  it('a flag the caller adds is parsed with the common ones', () => {
    const { p } = program();
    p.option('-S, --server <list>', 'servers');
    expect(parseDaemonArgs(p, ['-S', 'a:1,b:2', '-f'])).toEqual({
      kind: 'run',
      flags: { server: 'a:1,b:2', foreground: true },
    });
  });
});
