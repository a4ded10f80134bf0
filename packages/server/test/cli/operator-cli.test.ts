// Unit tests of the operator CLI's pure parts: where url/token/ca come from (flags > env >
// cli.json under an injected HOME), the output mode, the task body built from flags, and how a
// run's per-host results and summary read. The real server is in test/integration/operator-cli.test.ts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliConfigPath, resolveClientConfig } from '../../src/cli/client-config.ts';
import { describeFailure, UsageError, CliFailure } from '../../src/cli/errors.ts';
import { outputMode } from '../../src/cli/output.ts';
import { resultText, summarize, type HostResult } from '../../src/cli/run-command.ts';
import { taskBody } from '../../src/cli/task-command.ts';

let home: string;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'aspire-cli-unit-'));
  mkdirSync(join(home, '.config', 'aspire'), { recursive: true });
  writeFileSync(join(home, 'ca.pem'), 'PEM\n');
  writeFileSync(
    join(home, '.config', 'aspire', 'cli.json'),
    JSON.stringify({ url: 'https://file.example:8180/', token: 'asp_file', ca: '../../ca.pem' }),
  );
});

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('client config', () => {
  it('cli.json under HOME (or XDG_CONFIG_HOME); a relative ca is relative to the file', () => {
    expect(cliConfigPath({ HOME: home })).toBe(join(home, '.config', 'aspire', 'cli.json'));
    expect(cliConfigPath({ HOME: home, XDG_CONFIG_HOME: '/x' })).toBe('/x/aspire/cli.json');
    expect(resolveClientConfig({}, { HOME: home })).toEqual({
      url: 'https://file.example:8180',
      token: 'asp_file',
      caPem: 'PEM\n',
    });
  });

  it('env wins over the file, flags over env, each key on its own', () => {
    const env = { HOME: home, ASPIRE_URL: 'http://env.example', ASPIRE_TOKEN: 'asp_env' };
    expect(resolveClientConfig({}, env)).toMatchObject({ url: 'http://env.example', token: 'asp_env', caPem: 'PEM\n' });
    expect(resolveClientConfig({ token: 'asp_flag' }, env)).toMatchObject({
      url: 'http://env.example',
      token: 'asp_flag',
    });
  });

  it('nothing anywhere, a bad URL, an unknown key or an unreadable CA are usage errors naming the problem', () => {
    const empty = join(home, 'nowhere');
    expect(() => resolveClientConfig({}, { HOME: empty })).toThrow(/no server URL .* and no operator token/);
    expect(() => resolveClientConfig({ url: 'ftp://x', token: 't' }, { HOME: empty })).toThrow(UsageError);
    expect(() =>
      resolveClientConfig({ url: 'http://x', token: 't', ca: join(home, 'missing.pem') }, { HOME: empty }),
    ).toThrow(/--ca .*ENOENT/);
    const bad = mkdtempSync(join(tmpdir(), 'aspire-cli-bad-'));
    mkdirSync(join(bad, '.config', 'aspire'), { recursive: true });
    writeFileSync(join(bad, '.config', 'aspire', 'cli.json'), JSON.stringify({ url: 'http://x', tokn: 't' }));
    expect(() => resolveClientConfig({}, { HOME: bad })).toThrow(/unknown key "tokn"/);
    rmSync(bad, { recursive: true, force: true });
  });
});

describe('failures and output', () => {
  it('usage errors exit 2, the rest 1; the token never survives in the line', () => {
    expect(describeFailure(new UsageError('bad'), [])).toEqual({ exitCode: 2, line: 'bad' });
    expect(describeFailure(new CliFailure('refused asp_secret\nmore'), ['asp_secret'])).toEqual({
      exitCode: 1,
      line: 'refused <token> more',
    });
  });

  it('table on a terminal, json to a pipe, -o wins; anything else is a usage error', () => {
    expect(outputMode(undefined, true)).toBe('table');
    expect(outputMode(undefined, false)).toBe('json');
    expect(outputMode('table', false)).toBe('table');
    expect(() => outputMode('yaml', true)).toThrow(UsageError);
  });
});

describe('task create body', () => {
  it('hosts or a tag, parameters from --params then --param, numbers checked', () => {
    expect(
      taskBody('config', {
        host: ['sn-1'],
        params: '{"step":7,"x":"a"}',
        param: ['x=b'],
        delay: '5',
        batch: '2',
        retry: '3',
        retryInterval: '1.5',
      }),
    ).toEqual({
      command: 'config',
      agents: ['sn-1'],
      parameters: { step: 7, x: 'b' },
      delay: 5,
      batch: 2,
      retry: { count: 3, interval: 1.5 },
    });
    expect(
      taskBody('install', {
        tag: 'role=web,dc=eu',
        param: ['name=basic-agent'],
        windowStart: '100',
        windowEnd: '1970-01-01T00:03:20Z',
      }),
    ).toMatchObject({
      tags: 'role=web,dc=eu',
      window: { start: 100, end: 200 },
    });
    // Issue 13's fields: percentages, max_errors, priority, start_at (sent as ISO UTC), after, allow_unknown.
    expect(
      taskBody('install', {
        host: ['sn-1', 'sn-2'],
        batch: '10%',
        maxErrors: '0',
        priority: '7',
        startAt: '2026-01-01T01:00:00+01:00',
        after: ['3', '4'],
        allowUnknown: true,
      }),
    ).toMatchObject({
      batch: '10%',
      max_errors: 0,
      priority: 7,
      start_at: '2026-01-01T00:00:00.000Z',
      after: [3, 4],
      allow_unknown: true,
    });
    expect(taskBody('config', { host: ['a'], maxErrors: '25%', priority: '0' })).toMatchObject({
      max_errors: '25%',
      priority: 0,
    });
    expect(() => taskBody('config', { host: ['a'], batch: '0' })).toThrow(/--batch "0": a count 1\.\.100000/);
    expect(() => taskBody('config', { host: ['a'], maxErrors: '150%' })).toThrow(/--max-errors/);
    expect(() => taskBody('config', { host: ['a'], startAt: 'soon' })).toThrow(/--start-at "soon": an ISO 8601 time/);
    expect(() => taskBody('config', { host: ['a'], after: ['x'] })).toThrow(/--after "x"/);
    expect(() => taskBody('reboot', { host: ['a'] })).toThrow(/one of install/);
    expect(() => taskBody('config', {})).toThrow(/--host .* or --tag/);
    expect(() => taskBody('config', { host: ['a'], tag: 'a=b' })).toThrow(UsageError);
    expect(() => taskBody('config', { host: ['a'], params: '[1]' })).toThrow(/JSON object/);
    expect(() => taskBody('config', { host: ['a'], delay: '-1' })).toThrow(/--delay/);
  });
});

describe('run results', () => {
  const ok: HostResult = {
    host: 'sn-1',
    hostname: 'web-1',
    ok: true,
    resp: 'success',
    retcode: 0,
    message: 'Normal termination',
    output: 'a\nb\n',
    durationMs: 1234,
  };
  const bad: HostResult = {
    host: 'db-1',
    ok: false,
    resp: 'failed',
    retcode: 1003,
    message: 'refused by host policy',
    durationMs: 10,
  };
  const nonZero: HostResult = {
    host: 'web-2',
    ok: false,
    resp: 'success',
    retcode: 3,
    message: 'Normal termination',
    output: '',
    durationMs: 0,
  };

  it('a status line per host, the output indented', () => {
    expect(resultText(ok)).toBe('[ok]  web-1 (sn-1)  exit 0  1.2s\n    a\n    b\n');
    expect(resultText(bad)).toBe('[FAILED]  db-1  code 1003  0.0s  refused by host policy\n');
    expect(resultText(nonZero)).toBe('[FAILED]  web-2  exit 3  0.0s  Normal termination\n');
  });

  it('the summary counts a non-zero exit as a failure and names the failed hosts', () => {
    expect(summarize([ok, bad, nonZero])).toEqual({
      hosts: 3,
      succeeded: 1,
      failed: 2,
      failedHosts: ['db-1', 'web-2'],
    });
  });
});
