// The daemons' shared command line (daemon-cli.ts) and pidfile step (daemon-pidfile.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { daemonProgram, parseDaemonArgs, type DaemonFlags } from '../src/daemon-cli.ts';
import { takePidfile } from '../src/daemon-pidfile.ts';
import { createRootLogger } from '../src/logger.ts';

const help = { log: 'log file', pidfile: 'pidfile', config: 'config file', test: 'check the config' };
const dir = mkdtempSync(join(tmpdir(), 'daemon-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A program whose help and errors go nowhere (commander writes them itself). */
function quiet(name = 'demo') {
  return daemonProgram(name, 'a test daemon', help).configureOutput({ writeOut: () => {}, writeErr: () => {} });
}

describe('daemon command line', () => {
  it('takes the common flags, short and long', () => {
    const r = parseDaemonArgs<DaemonFlags>(quiet(), [
      '-f',
      '-L',
      'a.log',
      '--pidfile',
      'p.pid',
      '-c',
      'c.json',
      '-T',
      '--allow-no-server',
    ]);
    expect(r).toEqual({
      kind: 'run',
      flags: { foreground: true, log: 'a.log', pidfile: 'p.pid', config: 'c.json', test: true, allowNoServer: true },
    });
  });

  it('--help and --version exit 0; an unknown flag or a missing value is a usage error (2)', () => {
    expect(parseDaemonArgs(quiet(), ['--help'])).toEqual({ kind: 'exit', code: 0 });
    expect(parseDaemonArgs(quiet(), ['-V'])).toEqual({ kind: 'exit', code: 0 });
    expect(parseDaemonArgs(quiet(), ['--no-such-flag'])).toEqual({ kind: 'exit', code: 2 });
    expect(parseDaemonArgs(quiet(), ['-L'])).toEqual({ kind: 'exit', code: 2 });
  });

  it('a program adds its own flags to the common ones', () => {
    const p = quiet('boot').option('-S, --servers <list>', 'servers');
    expect(parseDaemonArgs(p, ['-S', 'a:1', '-f'])).toEqual({
      kind: 'run',
      flags: { servers: 'a:1', foreground: true },
    });
  });
});

describe('daemon pidfile step', () => {
  it('takes the pidfile, refuses a held one with exit 3 and says so on stderr', () => {
    const root = createRootLogger({ name: 'demo', level: 'silent' });
    const path = join(dir, 'd.pid');
    const first = takePidfile('demo', path, root);
    expect(first.kind).toBe('taken');
    expect(readFileSync(path, 'utf8').trim()).toBe(String(process.pid));
    // A pidfile held by another live process: our parent, started before the file was written.
    const held = join(dir, 'held.pid');
    const other = takePidfile('demo', held, root);
    other.release();
    writeFileSync(held, `${process.ppid}\n`);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const second = takePidfile('demo', held, root);
    const said = stderr.mock.calls.map((c) => String(c[0])).join('');
    stderr.mockRestore();
    expect(second.kind).toBe('failed');
    if (second.kind === 'failed') {
      expect(second.code).toBe(3);
      expect(second.message).toMatch(/held by running process/);
    }
    expect(said).toMatch(/^demo: pidfile .* held by running process/);
    first.release();
    expect(() => readFileSync(path)).toThrow();
  });

  it('no path: no pidfile, nothing to release', () => {
    const root = createRootLogger({ name: 'demo', level: 'silent' });
    expect(takePidfile('demo', undefined, root).kind).toBe('taken');
  });
});
