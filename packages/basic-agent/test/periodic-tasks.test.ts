import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseHostPolicy, silentLogger } from '@aspire/agent-core';
import { ErrorCode } from '@aspire/protocol';
import { ManualClock, waitUntil } from '@aspire/testing';
import { PeriodicTasks } from '../src/cron/periodic-tasks.ts';

// Server-added tasks: persisted before they go live; a failed write changes nothing.
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function make() {
  const dir = mkdtempSync(join(tmpdir(), 'aspire-tasks-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'crontab'), '* * * * * * root true\nbad line\n');
  const t = new PeriodicTasks({
    clock: new ManualClock(),
    logger: silentLogger(),
    crontabPath: join(dir, 'crontab'),
    storePath: join(dir, 'state', 'tasks.json'),
    timezone: 'UTC',
    taskTimeoutSec: 10,
    onResult: () => {},
  });
  t.start();
  return { t, dir };
}

describe('periodic tasks from the server', () => {
  it('add, list, remove; the file holds the set', async () => {
    const { t, dir } = make();
    expect(await t.add({ id: '1', method: 'task.add', name: 'a', line: '0 * * * * * root echo a' })).toMatchObject({
      resp: 'success',
    });
    expect(JSON.parse(readFileSync(join(dir, 'state', 'tasks.json'), 'utf8')).tasks).toEqual([
      { name: 'a', line: '0 * * * * * root echo a' },
    ]);
    const list = t.list('2').data as { tasks: { name: string }[]; crontab: { errors: { line: number }[] } };
    expect(list.tasks.map((x) => x.name).sort()).toEqual(['a', 'crontab:1']);
    expect(list.crontab.errors.map((e) => e.line)).toEqual([2]);
    expect(await t.remove({ id: '3', method: 'task.remove', name: 'a' })).toMatchObject({ resp: 'success' });
    expect(await t.remove({ id: '4', method: 'task.remove', name: 'a' })).toMatchObject({
      retcode: ErrorCode.CHANNEL_NO_SUCH_TASK,
    });
    t.stop();
  });

  it('a write that fails leaves the old set live and says so', async () => {
    const { t, dir } = make();
    await t.add({ id: '1', method: 'task.add', name: 'a', line: '0 * * * * * root echo a' });
    // The state dir becomes read-only (root ignores mode bits, so replace it with a file).
    rmSync(join(dir, 'state'), { recursive: true });
    writeFileSync(join(dir, 'state'), 'not a dir');
    chmodSync(join(dir, 'state'), 0o400);
    const r = await t.add({ id: '2', method: 'task.add', name: 'b', line: '0 * * * * * root echo b' });
    expect(r).toMatchObject({ resp: 'failed', retcode: ErrorCode.EXEC_ERROR });
    expect(r.message).toMatch(/tasks unchanged/);
    expect((t.list('3').data as { tasks: { name: string }[] }).tasks.map((x) => x.name).sort()).toEqual([
      'a',
      'crontab:1',
    ]);
    t.stop();
  });
});

describe('the crontab file watched for changes', () => {
  it('a change on disk is re-read after crontabCheckSec without SIGHUP; an unchanged file is not re-read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aspire-tasks-'));
    dirs.push(dir);
    const crontab = join(dir, 'crontab');
    writeFileSync(crontab, '0 * * * * * root echo one\n');
    const clock = new ManualClock();
    const t = new PeriodicTasks({
      clock,
      logger: silentLogger(),
      crontabPath: crontab,
      crontabCheckSec: 5,
      storePath: join(dir, 'state', 'tasks.json'),
      timezone: 'UTC',
      taskTimeoutSec: 10,
      onResult: () => {},
    });
    t.start();
    const lines = () => (t.list('x').data as { tasks: { line: string }[] }).tasks.map((x) => x.line);
    expect(lines()).toEqual(['0 * * * * * root echo one']);
    writeFileSync(crontab, '0 * * * * * root echo one\n0 * * * * * root echo two\n');
    await clock.advance(4000);
    expect(lines()).toHaveLength(1);
    await clock.advance(1000);
    expect(lines()).toEqual(['0 * * * * * root echo one', '0 * * * * * root echo two']);
    rmSync(crontab);
    await clock.advance(5000);
    expect(lines()).toEqual([]);
    t.stop();
  });
});

describe('the managed section under the host policy', () => {
  it('a managed line is checked against the host policy before it runs; the host own lines are not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aspire-tasks-'));
    dirs.push(dir);
    const crontab = join(dir, 'crontab');
    writeFileSync(
      crontab,
      [
        '* * * * * * root echo host-line',
        '# BEGIN ASPIRE MANAGED SECTION (written by the BootAgent from the server policy; edits here are replaced)',
        '# task: allowed',
        '* * * * * * root echo allowed',
        '# task: refused',
        '* * * * * * root echo refused',
        '# END ASPIRE MANAGED SECTION',
        '',
      ].join('\n'),
    );
    const clock = new ManualClock();
    const results: { name: string; errcode?: number; output?: string }[] = [];
    const t = new PeriodicTasks({
      clock,
      logger: silentLogger(),
      crontabPath: crontab,
      storePath: join(dir, 'state', 'tasks.json'),
      timezone: 'UTC',
      taskTimeoutSec: 10,
      policy: parseHostPolicy(JSON.stringify({ commands: [{ exact: 'echo allowed' }] }), '/etc/basicagent/policy.json'),
      onResult: (r) => results.push(r as (typeof results)[number]),
    });
    t.start();
    await clock.advance(1000);
    await waitUntil(() => new Set(results.map((r) => r.name)).size === 3, { what: 'one run of each line' });
    const by = Object.fromEntries(results.map((r) => [r.name, r]));
    expect(by['crontab:1']).toMatchObject({ output: 'host-line\n' });
    expect(by['crontab:4']).toMatchObject({ output: 'allowed\n' });
    expect(by['crontab:6']).toMatchObject({ errcode: ErrorCode.POLICY_REFUSED });
    t.stop();
  });
});
