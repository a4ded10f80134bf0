// The daemon runner as the daemons use it, in a real process: a daemon made only of the runner
// (fixtures/demo-daemon.ts, bundled with esbuild) is started, signalled and crashed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'daemon-runner-'));
const bundle = join(dir, 'demo.cjs');
beforeAll(async () => {
  await build({
    entryPoints: [join(import.meta.dirname, 'fixtures/demo-daemon.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: bundle,
    logLevel: 'error',
  });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const logLines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: string; msg: string; signal?: string });

/** Start the demo daemon in the foreground; resolves once it says it runs. */
function start(name: string, mode: string) {
  const log = join(dir, `${name}.log`);
  const pidfile = join(dir, `${name}.pid`);
  const child = spawn(process.execPath, [bundle, '-f', '-L', log, '-P', pidfile], {
    env: { ...process.env, DEMO_MODE: mode },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const running = new Promise<void>((resolve) =>
    child.stdout.on('data', (d) => String(d).includes('running') && resolve()),
  );
  return { child, log, pidfile, exited, running, stderr: () => stderr };
}

describe('daemon runner in a real process', () => {
  it('-T and a config error: the report and exit 0, or exit 2 naming the problem; no log opened', () => {
    const ok = spawnSync(process.execPath, [bundle, '-T', '-L', join(dir, 't.log')], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe('demo: config is valid\n');
    expect(existsSync(join(dir, 't.log'))).toBe(false);
    const bad = spawnSync(process.execPath, [bundle, '-f', '-c', 'bad'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^demo: invalid config bad:\n {2}- x: must be a number\n$/);
    expect(spawnSync(process.execPath, [bundle, '--bogus'], { encoding: 'utf8' }).status).toBe(2);
  });

  it('SIGHUP reopens the log and runs the hook; SIGTERM stops with exit 0 and releases the pidfile', async () => {
    const d = start('stop', 'wait');
    await d.running;
    expect(readFileSync(d.pidfile, 'utf8').trim()).toBe(String(d.child.pid));
    d.child.kill('SIGHUP');
    const deadline = Date.now() + 30_000;
    while (!logLines(d.log).some((l) => l.msg === 'hangup hook ran') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    const msgs = logLines(d.log).map((l) => l.msg);
    // The reopen line comes before the hook's; the stop lines may land in either order while
    // the log file is being reopened (pino's asynchronous destination), so only their presence.
    expect(msgs.slice(0, 2)).toEqual(['log file reopened (SIGHUP)', 'hangup hook ran']);
    expect(msgs.slice(2).sort()).toEqual(['stopped', 'stopping']);
    expect(logLines(d.log).find((l) => l.msg === 'stopping')?.signal).toBe('SIGTERM');
    expect(existsSync(d.pidfile)).toBe(false);
  }, 60_000);

  it('a second instance on the same pidfile exits 3 and says which process holds it', async () => {
    const d = start('held', 'wait');
    await d.running;
    const second = spawnSync(process.execPath, [bundle, '-f', '-P', d.pidfile, '-L', join(dir, 'held2.log')], {
      encoding: 'utf8',
    });
    expect(second.status).toBe(3);
    expect(second.stderr).toMatch(/^demo: pidfile .* held by running process \d+/);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  }, 60_000);

  it('an uncaught exception is one fatal log line and exit 1', async () => {
    const d = start('crash', 'crash');
    expect(await d.exited).toBe(1);
    const fatal = logLines(d.log).filter((l) => l.level === 'fatal');
    expect(fatal.map((l) => l.msg)).toEqual(['uncaught exception: exiting']);
  }, 60_000);

  it('work that fails: one fatal line, the message on stderr, exit 1, the pidfile released', async () => {
    const d = start('fail', 'fail');
    expect(await d.exited).toBe(1);
    expect(
      logLines(d.log)
        .filter((l) => l.level === 'fatal')
        .map((l) => l.msg),
    ).toEqual(['demo failed']);
    expect(d.stderr()).toBe('demo: the work failed\n');
    expect(existsSync(d.pidfile)).toBe(false);
  }, 60_000);
});
