// Issue 15 item 5: the four programs (boot, BasicAgent, BasicAgentCtl, aspire) print --version
// in one form, share the exit codes (0 ok, 1 runtime failure, 2 usage or config error, 3 already
// running), BasicAgentCtl takes collector flags after -c and --format json|table, every JSON
// log names its level; a BasicAgent without a hub address fails -T with 2 and, as a daemon,
// waits quietly until basic.json names one.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Child, binary, makeTestCa, startAspire, waitUntil, type AspireHandle, type TestCa } from '@aspire/testing';

const run = promisify(execFile);
type Program = 'boot' | 'BasicAgent' | 'BasicAgentCtl' | 'aspire';
async function cmd(program: Program, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const b = binary(program);
  try {
    const r = await run(b.cmd, [...b.args, ...args], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let dir: string;
let ca: TestCa;
let srv: AspireHandle;
const children: Child[] = [];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cli-consistency-'));
  ca = makeTestCa();
  srv = await startAspire();
});
afterAll(async () => {
  for (const c of children) await c.stop().catch(() => undefined);
  await srv?.stop();
  ca?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const parseLog = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('one command line for four programs', () => {
  it('--version prints NAME VERSION (node 24.x, ARCH) for each, exit 0', async () => {
    for (const p of ['boot', 'BasicAgent', 'BasicAgentCtl', 'aspire'] as const) {
      const r = await cmd(p, ['--version']);
      expect(r.code, p).toBe(0);
      expect(r.stdout.trim(), p).toMatch(
        new RegExp(`^${p} \\d+\\.\\d+\\.\\d+\\S* \\(node 24\\.\\d+\\.\\d+, (x86_64|aarch64)\\)$`),
      );
    }
  }, 180_000);

  it('--help shows examples and the exit codes; an unknown flag is a usage error (2)', async () => {
    for (const p of ['boot', 'BasicAgent', 'BasicAgentCtl', 'aspire'] as const) {
      const h = await cmd(p, ['--help']);
      expect(h.code, p).toBe(0);
      expect(h.stdout, p).toMatch(/Examples:/);
      expect(h.stdout, p).toMatch(/Exit codes: 0 ok, 1 /);
      expect((await cmd(p, ['--no-such-flag'])).code, p).toBe(2);
    }
  }, 180_000);

  it('BasicAgent: a bad config exits 2; a held pidfile exits 3 (foreground and daemonized)', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ serverHost: 'bad host!', ca: ca.caCertFile }));
    const r = await cmd('BasicAgent', ['-T', '-c', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('serverHost');
    const cfg = join(dir, 'held.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        serverHost: '127.0.0.1',
        serverPort: 1,
        ca: ca.caCertFile,
        crontab: join(dir, 'none'),
        stateDir: join(dir, 'st-held'),
        backoffBaseMs: 200,
      }),
    );
    const pidfile = join(dir, 'held.pid');
    const b = binary('BasicAgent');
    const first = new Child(b.cmd, [...b.args, '-f', '-c', cfg, '-P', pidfile]);
    children.push(first);
    await first.waitForLine(/^BasicAgent: running pid/, 30_000);
    const second = await cmd('BasicAgent', ['-f', '-c', cfg, '-P', pidfile]);
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(/held by running process/);
    const daemon = await cmd('BasicAgent', ['-c', cfg, '-P', pidfile]);
    expect(daemon.code).toBe(3);
    expect(daemon.stderr).toMatch(/daemon failed to start: .*held by running process/);
  }, 180_000);

  it('BasicAgent without serverHost: -T exits 2 saying so; the daemon waits (one line per backoff) and connects once basic.json names the hub', async () => {
    const cfg = join(dir, 'nohub.json');
    const base = {
      ca: ca.caCertFile,
      crontab: join(dir, 'none'),
      stateDir: join(dir, 'st-nohub'),
      backoffBaseMs: 200,
      backoffMaxMs: 1000,
    };
    writeFileSync(cfg, JSON.stringify({ ...base, serverHost: '' }));
    const t = await cmd('BasicAgent', ['-T', '-c', cfg]);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/no hub address: "serverHost" is empty in .*nohub\.json/);
    expect((await cmd('BasicAgent', ['-T', '--allow-no-server', '-c', cfg])).code).toBe(0);
    const log = join(dir, 'nohub.log');
    const b = binary('BasicAgent');
    const agent = new Child(b.cmd, [...b.args, '-f', '-c', cfg, '-L', log, '-P', join(dir, 'nohub.pid')]);
    children.push(agent);
    await agent.waitForLine(/^BasicAgent: running pid \d+ \(waiting for serverHost\)/, 30_000);
    const waits = () => parseLog(readFileSync(log, 'utf8')).filter((l) => /^no hub address yet/.test(String(l.msg)));
    await waitUntil(() => waits().length >= 3, { timeoutMs: 30_000, what: 'three wait lines' });
    expect(agent.proc.exitCode).toBeNull();
    expect(waits().every((l) => l.level === 'warn' && typeof l.retryInMs === 'number')).toBe(true);
    // logrotate's SIGHUP during the wait reopens the log; the agent keeps waiting.
    const before = waits().length;
    agent.kill('SIGHUP');
    await waitUntil(() => waits().length > before + 1, { timeoutMs: 30_000, what: 'waiting on after SIGHUP' });
    expect(agent.proc.exitCode).toBeNull();
    // Now a hub that refuses nothing but is not there either: the agent leaves the wait and dials it.
    writeFileSync(cfg, JSON.stringify({ ...base, serverHost: '127.0.0.1', serverPort: 1 }));
    await waitUntil(() => readFileSync(log, 'utf8').includes('hub address configured'), {
      timeoutMs: 30_000,
      what: 'config picked up',
    });
    await waitUntil(() => /reconnecting after delay/.test(readFileSync(log, 'utf8')), {
      timeoutMs: 30_000,
      what: 'dialling the hub',
    });
  }, 180_000);

  it('every JSON log names its level: boot, BasicAgent and aspire', async () => {
    const bootDir = mkdtempSync(join(dir, 'boot-'));
    writeFileSync(join(bootDir, 'boot.json'), JSON.stringify({ step: 1, servers: ['127.0.0.1:9'] }));
    const b = binary('boot');
    const boot = new Child(b.cmd, [
      ...b.args,
      '-f',
      '-c',
      join(bootDir, 'boot.json'),
      '-d',
      join(bootDir, 'state'),
      '-L',
      join(bootDir, 'boot.log'),
      '-P',
      join(bootDir, 'boot.pid'),
    ]);
    children.push(boot);
    await waitUntil(
      () => /register to http:\/\/127\.0\.0\.1:9 failed/.test(readFileSync(join(bootDir, 'boot.log'), 'utf8')),
      { timeoutMs: 30_000, what: 'boot log' },
    );
    const names = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
    const bootLines = parseLog(readFileSync(join(bootDir, 'boot.log'), 'utf8'));
    expect(bootLines.length).toBeGreaterThan(2);
    for (const l of bootLines) expect(names, JSON.stringify(l)).toContain(l.level);
    expect(bootLines.some((l) => l.level === 'info' && l.msg === 'boot starting')).toBe(true);
    const basicLines = parseLog(readFileSync(join(dir, 'nohub.log'), 'utf8'));
    for (const l of basicLines) expect(names, JSON.stringify(l)).toContain(l.level);
    // aspire logs to stderr in the test helper.
    const aspireLines = parseLog(srv.child.output);
    expect(aspireLines.some((l) => l.level === 'info' && l.msg === 'aspire server started')).toBe(true);
    for (const l of aspireLines) expect(names, JSON.stringify(l)).toContain(l.level);
  }, 180_000);
});

describe('BasicAgentCtl', () => {
  it('-c getinfo.users -u works as the README writes it, the same as -a -u', async () => {
    const loose = await cmd('BasicAgentCtl', ['-c', 'getinfo.users', '-u']);
    expect(loose.code, loose.stderr).toBe(0);
    const quoted = await cmd('BasicAgentCtl', ['-c', 'getinfo.users', '-a', '-u']);
    expect(JSON.parse(loose.stdout)).toEqual(JSON.parse(quoted.stdout));
    const root = await cmd('BasicAgentCtl', ['-c', 'getinfo.users', '-U', 'root']);
    expect(JSON.parse(root.stdout)).toEqual([expect.objectContaining({ name: 'root', uid: 0 })]);
  }, 180_000);

  it('to a pipe: one JSON document on one line; --format table: aligned columns with a header', async () => {
    const piped = await cmd('BasicAgentCtl', ['-c', 'getinfo.users', '-A']);
    expect(piped.stdout.trim().split('\n')).toHaveLength(1);
    const users = JSON.parse(piped.stdout) as { name: string }[];
    const table = await cmd('BasicAgentCtl', ['-c', 'getinfo.users', '-A', '--format', 'table']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+UID\s+GID/);
    expect(lines).toHaveLength(users.length + 1);
    expect(lines.some((l) => /^root\s+0\s+0\s/.test(l))).toBe(true);
    const json = await cmd('BasicAgentCtl', ['-c', 'getinfo.users', '-A', '--format', 'json']);
    expect(JSON.parse(json.stdout)).toEqual(users);
    const bad = await cmd('BasicAgentCtl', ['-c', 'getinfo.users', '--format', 'yaml']);
    expect(bad.code).toBe(2);
  }, 180_000);
});
