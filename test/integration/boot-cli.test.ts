// The boot command line (docs/design.md §3 "Command line"): -T names each bad key and never touches
// the live log; --version/--help; daemonizing without -f; SIGHUP reopens the log; https servers
// verified against the configured CA (never without verification).
import { createServer as createHttpsServer, type Server } from 'node:https';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Child, binary, makeTestCa, startBoot, waitUntil, type BootHandle, type TestCa } from '@aspire/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'boot-cli-'));
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function runBoot(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
): Promise<{ code: number | null; output: string }> {
  const bin = binary('boot');
  const child = new Child(bin.cmd, [...bin.args, ...args], {
    env: { ...process.env, ...env },
    ...(cwd ? { cwd } : {}),
  });
  const exit = await child.exited;
  // Let the last output lines arrive.
  await new Promise((r) => setImmediate(r));
  return { code: exit.code, output: child.output };
}

describe('boot CLI', () => {
  it('-T with a bad config exits non-zero naming every bad key, and never creates the live log', async () => {
    const cfg = join(dir, 'bad.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        step: 'often',
        colour: 'blue',
        logLevel: 'chatty',
        eventQueueMax: -5,
        supervision: { maxStrikes: 'three', cgroupRot: '/x' },
      }),
    );
    const live = join(dir, 'live.log');
    const r = await runBoot(['-T', '-c', cfg, '-L', live]);
    expect(r.code).toBe(2);
    for (const key of [
      'step:',
      'colour: unknown key',
      'logLevel:',
      'supervision.maxStrikes:',
      'supervision.cgroupRot: unknown key',
    ])
      expect(r.output).toContain(key);
    expect(r.output).toContain(cfg);
    expect(existsSync(live)).toBe(false);
  });

  it('-T with malformed JSON or a missing named file says so', async () => {
    const cfg = join(dir, 'broken.json');
    writeFileSync(cfg, '{"step": 5,');
    const r1 = await runBoot(['-T', '-c', cfg]);
    expect(r1.code).toBe(2);
    expect(r1.output).toMatch(/malformed JSON/);
    const r2 = await runBoot(['-T'], { BOOT_CONFIG: join(dir, 'nope.json') });
    expect(r2.code).toBe(2);
    expect(r2.output).toMatch(/nope\.json[\s\S]*cannot read file/);
  });

  it('-T with a good config exits 0 and reports clamps; a bad -S is named too', async () => {
    const cfg = join(dir, 'good.json');
    writeFileSync(cfg, JSON.stringify({ step: 0, servers: ['127.0.0.1:9'], supervision: { checkIntervalSec: 0.5 } }));
    const r = await runBoot(['-T', '-c', cfg]);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/step: 0 clamped to 1/);
    expect(r.output).toMatch(/is valid/);
    const bad = await runBoot(['-T', '-c', cfg, '-S', 'ftp://example.invalid:21']);
    expect(bad.code).toBe(2);
    expect(bad.output).toMatch(/-S: server "ftp:\/\/example.invalid:21": only http and https/);
  });

  it('--version and --help', async () => {
    const v = await runBoot(['--version']);
    expect(v.code).toBe(0);
    expect(v.output.trim()).toMatch(/^boot \d+\.\d+\.\d+\S* \(node 24\.\d+\.\d+, (x86_64|aarch64)\)$/);
    const h = await runBoot(['--help']);
    expect(h.code).toBe(0);
    expect(h.output).toMatch(/Examples:\n  boot -T/);
    expect(h.output).toMatch(/Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 already running/);
    expect((await runBoot(['--no-such-flag'])).code).toBe(2);
    for (const f of ['-f', '-L', '-P', '-S', '-T', '-c', '-d']) expect(h.output).toContain(`${f}, --`);
  });

  it('without -f it daemonizes (relative paths resolved): the parent exits 0 once the child holds the pidfile; SIGTERM stops it and frees it', async () => {
    const d = mkdtempSync(join(dir, 'daemon-'));
    const cfg = join(d, 'boot.json');
    writeFileSync(cfg, JSON.stringify({ step: 1 }));
    const pidfile = join(d, 'boot.pid');
    // Relative paths: the daemon runs in / and must still find them.
    const r = await runBoot(
      ['-c', 'boot.json', '-d', 'state', '-L', 'boot.log', '-P', 'boot.pid', '-S', 'http://127.0.0.1:9'],
      {},
      d,
    );
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/daemon started, pid (\d+)/);
    const pid = Number(/pid (\d+)/.exec(r.output)![1]);
    cleanups.push(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    });
    expect(readFileSync(pidfile, 'utf8').trim()).toBe(String(pid));
    await waitUntil(() => existsSync(join(d, 'state', 'journal.json')), { timeoutMs: 20_000, what: 'state dir used' });
    // A second daemon on the same pidfile: the parent reports the child's reason and fails.
    const again = await runBoot(['-c', cfg, '-d', join(d, 'state2'), '-L', join(d, 'boot2.log'), '-P', pidfile]);
    expect(again.code).toBe(3);
    expect(again.output).toMatch(/held by running process/);
    process.kill(pid, 'SIGTERM');
    await waitUntil(() => !existsSync(pidfile), { timeoutMs: 20_000, what: 'pidfile released' });
    const log = readFileSync(join(d, 'boot.log'), 'utf8');
    expect(log).toContain('"msg":"stopped"');
  });

  it('SIGHUP reopens the log file (logrotate moved it)', async () => {
    const boot = await startBoot({ serverUrl: 'http://127.0.0.1:9', step: 1 });
    cleanups.push(async () => {
      await boot.stop();
      boot.cleanup();
    });
    await boot.waitForLog(/^state registering$/);
    renameSync(boot.logFile, `${boot.logFile}.1`);
    boot.child.kill('SIGHUP');
    await waitUntil(
      () => existsSync(boot.logFile) && readFileSync(boot.logFile, 'utf8').includes('log file reopened'),
      { timeoutMs: 20_000, what: 'new log file' },
    );
    await waitUntil(() => readFileSync(boot.logFile, 'utf8').includes('register to http://127.0.0.1:9 failed'), {
      timeoutMs: 20_000,
      what: 'logging into the new file',
    });
  });
});

describe('https servers', () => {
  let ca: TestCa;
  let server: Server;
  let url: string;
  const pushes: string[] = [];
  const boots: BootHandle[] = [];

  beforeAll(async () => {
    ca = makeTestCa({ names: ['127.0.0.1'] });
    server = createHttpsServer({ cert: ca.serverCert, key: ca.serverKey }, (req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const j = JSON.parse(body);
        res.setHeader('content-type', 'application/json');
        if (req.url === '/agent/register') res.end(JSON.stringify({ status: 0, agentsn: j.agentsn, credential: 'c' }));
        else {
          pushes.push(j.agentsn);
          res.end(JSON.stringify({ status: 0, jobs: [] }));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const b of boots) {
      await b.stop();
      b.cleanup();
    }
    server?.closeAllConnections();
    await new Promise<void>((r) => server?.close(() => r()));
    ca?.cleanup();
  });

  it('verifies the server against the configured CA, and refuses it without that CA', async () => {
    const trusting = await startBoot({ serverUrl: url, step: 1, config: { ca: ca.caCertFile } });
    const stranger = await startBoot({ serverUrl: url, step: 1 });
    boots.push(trusting, stranger);
    await waitUntil(() => trusting.readMeta()?.trusted, { timeoutMs: 30_000, what: 'https push answered' });
    const failure = await stranger.waitForLog(/^register to https:.* failed: /, { timeoutMs: 30_000 });
    expect(String(failure.msg)).toMatch(/certificate|self.signed|UNABLE_TO_VERIFY/i);
    expect(stranger.readMeta()).toBeUndefined();
    expect(pushes).toContain(trusting.readMeta()!.agentsn);
  });
});
