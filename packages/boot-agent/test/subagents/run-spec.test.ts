import { describe, expect, it } from 'vitest';
import { parseLimits, parseRunSpec, RunSpecError, splitCommand } from '../../src/subagents/run-spec.ts';

describe('run spec (agent.json, design.md §3 "Supervision" fields)', () => {
  it('parses the design.md §3 "Supervision" example fields', () => {
    const s = parseRunSpec({
      name: 'plugin_name',
      version: '1.0.1',
      start: '/your/program/path/start --flag "two words"',
      stop: 'process:/your/program/path/stop now',
      stop_timeout: 10,
      check: 'process',
      check_interval: 10,
      user: 'nobody',
      group: 'nogroup',
      pidfile: '/var/run/program.pid',
      env: { PATH: '/usr/bin:/usr/sbin' },
      limits: { hits: 5, cpu: '5%', memory: '100M' },
      precheck: '/x',
      start_delay: 10,
    });
    expect(s.start).toEqual(['/your/program/path/start', '--flag', 'two words']);
    expect(s.stop).toEqual({ kind: 'process', argv: ['/your/program/path/stop', 'now'] });
    expect(s.stopTimeoutSec).toBe(10);
    expect(s.check).toBe('process');
    expect(s.limits).toEqual({ hits: 5, cpuPercent: 5, memoryBytes: 100 * 1024 * 1024 });
    expect(s.env).toEqual({ PATH: '/usr/bin:/usr/sbin' });
    expect(s.precheck).toEqual(['/x']);
    expect(s.precheckAttempts).toBe(1);
    expect(s.startDelaySec).toBe(10);
    expect(
      parseRunSpec({ version: '1', start: 'a', precheck: ['/bin/check', '--deep'], precheck_retries: 3 }),
    ).toMatchObject({ precheck: ['/bin/check', '--deep'], precheckAttempts: 3 });
    expect(() => parseRunSpec({ version: '1', start: 'a', precheck_retries: -1 })).toThrow(/precheck_retries/);
  });

  it('kill:SIGNAL by name, short name or number; default kill:SIGTERM', () => {
    expect(parseRunSpec({ version: '1', start: 'a', stop: 'kill:SIGINT' }).stop).toEqual({
      kind: 'kill',
      signal: 'SIGINT',
    });
    expect(parseRunSpec({ version: '1', start: 'a', stop: 'kill:hup' }).stop).toEqual({
      kind: 'kill',
      signal: 'SIGHUP',
    });
    expect(parseRunSpec({ version: '1', start: 'a', stop: 'kill:9' }).stop).toEqual({
      kind: 'kill',
      signal: 'SIGKILL',
    });
    expect(parseRunSpec({ version: '1', start: ['a', 'b c'] }).stop).toEqual({ kind: 'kill', signal: 'SIGTERM' });
  });

  it('lists every bad field at once', () => {
    let err: RunSpecError | undefined;
    try {
      parseRunSpec({
        version: '../x',
        stop: 'shoot:it',
        stop_timeout: -1,
        limits: { cpu: 'lots', memory: '1', foo: 1 },
        env: { 'BAD-NAME': 'x' },
        pidfile: 'rel',
        bogus: true,
      });
    } catch (e) {
      err = e as RunSpecError;
    }
    expect(err).toBeInstanceOf(RunSpecError);
    const text = err!.problems.join('\n');
    for (const key of [
      'version',
      'start',
      'stop',
      'stop_timeout',
      'limits.cpu',
      'limits.memory',
      'limits.foo',
      'env.BAD-NAME',
      'pidfile',
      'bogus',
    ])
      expect(text).toContain(key);
  });

  it('a spec is data: shell syntax stays literal', () => {
    expect(splitCommand('echo $(rm -rf /) ; ls | wc')).toEqual(['echo', '$(rm', '-rf', '/)', ';', 'ls', '|', 'wc']);
    expect(splitCommand(`a 'b c' "d \\" e" f\\ g`)).toEqual(['a', 'b c', 'd " e', 'f g']);
    expect(() => splitCommand('a "b')).toThrow(/unterminated/);
  });

  it('limits: cpu or CPU, K/M/G sizes, hits', () => {
    expect(parseLimits({ CPU: '10%', memory: '20M' })).toEqual({
      hits: 5,
      cpuPercent: 10,
      memoryBytes: 20 * 1024 * 1024,
    });
    expect(parseLimits({ cpu: '150%', memory: '1G', hits: 2 })).toEqual({
      hits: 2,
      cpuPercent: 150,
      memoryBytes: 1024 ** 3,
    });
    expect(parseLimits({ memory: '2048K' }).memoryBytes).toBe(2 * 1024 * 1024);
    const problems: string[] = [];
    parseLimits({ cpu: '0%', memory: '12X' }, problems);
    expect(problems).toHaveLength(2);
  });
});
