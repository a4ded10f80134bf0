import { describe, expect, it } from 'vitest';
import { applyEnvRule } from '../../src/subagents/env-rule.ts';
import { parseRunSpec, parseStop } from '../../src/subagents/run-spec.ts';
import { parseSocket } from '../../src/subagents/socket-check.ts';

describe('daemon fields (unit)', () => {
  it('stop: a bare command line is a command, as process: is; kill: stays a signal', () => {
    const p: string[] = [];
    expect(parseStop('/your/program/path/stop --now', p)).toEqual({
      kind: 'process',
      argv: ['/your/program/path/stop', '--now'],
    });
    expect(parseStop('process:/bin/stop', p)).toEqual({ kind: 'process', argv: ['/bin/stop'] });
    expect(parseStop('kill:15', p)).toEqual({ kind: 'kill', signal: 'SIGTERM' });
    expect(p).toEqual([]);
    parseStop('"unterminated', p);
    expect(p[0]).toMatch(/unterminated/);
  });

  it('socket: unix paths and TCP addresses; anything else named', () => {
    const p: string[] = [];
    expect(parseSocket('/var/run/program.sock', p)).toEqual({ kind: 'unix', path: '/var/run/program.sock' });
    expect(parseSocket('unix:/run/x.sock', p)).toEqual({ kind: 'unix', path: '/run/x.sock' });
    expect(parseSocket('127.0.0.1:8080', p)).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8080 });
    expect(parseSocket('tcp://localhost:1', p)).toEqual({ kind: 'tcp', host: 'localhost', port: 1 });
    expect(parseSocket('tcp:[::1]:9', p)).toEqual({ kind: 'tcp', host: '::1', port: 9 });
    expect(parseSocket(undefined, p)).toBeUndefined();
    expect(p).toEqual([]);
    for (const bad of ['program.sock', 'host:0', 'host:70000', 'udp://h:1', 5]) parseSocket(bad, p);
    expect(p).toHaveLength(5);
  });

  it("envs: ';' in a PATH-like list becomes ':', mixed separators are refused, other variables keep ';'", () => {
    const r = applyEnvRule({ PATH: '/usr/bin;/usr/local/bin', LD_LIBRARY_PATH: '/a;/b', NOTE: 'x;y' }, 'envs');
    expect(r.env).toEqual({ PATH: '/usr/bin:/usr/local/bin', LD_LIBRARY_PATH: '/a:/b', NOTE: 'x;y' });
    expect(r.notes).toHaveLength(2);
    expect(r.problems).toEqual([]);
    const mixed = applyEnvRule({ PATH: '/usr/bin;/bin:/sbin' }, 'env');
    expect(mixed.problems[0]).toMatch(/^env\.PATH: .* mixes ';' and ':'/);
  });

  it('the run spec applies both: the design daemon example parses', () => {
    const spec = parseRunSpec({
      name: 'plugin_name',
      version: '1.0.1',
      start: '/your/program/path/start',
      stop: '/your/program/path/stop',
      stop_timeout: 10,
      check: 'process',
      check_interval: 10,
      pidfile: '/var/run/program.pid',
      socket: '/var/run/program.sock',
      env: { PATH: '/usr/bin;/usr/sbin' },
      limits: { hits: 5, cpu: '5%', memory: '100M' },
    });
    expect(spec.stop).toEqual({ kind: 'process', argv: ['/your/program/path/stop'] });
    expect(spec.socket).toEqual({ kind: 'unix', path: '/var/run/program.sock' });
    expect(spec.env.PATH).toBe('/usr/bin:/usr/sbin');
    expect(() => parseRunSpec({ version: '1', start: 'x', env: { PATH: '/a;/b:/c' } })).toThrow(/mixes/);
  });
});
