import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import {
  binary,
  makeTestCa,
  startAspire,
  startBasicAgent,
  waitUntil,
  type AspireHandle,
  type BasicAgentHandle,
  type TestCa,
} from '@aspire/testing';

// The daemon's life: flags, config check, pidfile lock, background start, reconnect, redirect.
const run = promisify(execFile);
const agentCmd = async (...args: string[]) => {
  const b = binary('BasicAgent');
  try {
    const r = await run(b.cmd, [...b.args, ...args]);
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
};

let ca: TestCa;
let dir: string;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(() => {
  ca = makeTestCa();
  dir = mkdtempSync(join(tmpdir(), 'aspire-basic-daemon-'));
});
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
  ca?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('BasicAgent daemon', () => {
  it('--help, --version, and -T listing every bad config key', async () => {
    expect((await agentCmd('--help')).out).toMatch(/-f .*foreground/);
    expect((await agentCmd('--version')).out).toMatch(/^BasicAgent \d+\.\d+\.\d+/);
    const cfg = join(dir, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ serverHost: 'bad host!', serverPort: 'x', colour: 'blue' }));
    const r = await agentCmd('-T', '-c', cfg);
    expect(r.code).not.toBe(0);
    for (const key of ['serverHost', 'serverPort', 'colour', 'ca']) expect(r.err).toContain(key);
    writeFileSync(cfg, '{not json');
    expect((await agentCmd('-T', '-c', cfg)).err).toMatch(/malformed JSON/);
  });

  it('starts in the background, holds its pidfile, stops on SIGTERM', async () => {
    const cfg = join(dir, 'ok.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        serverHost: '127.0.0.1',
        serverPort: 1,
        ca: ca.caCertFile,
        crontab: join(dir, 'none'),
        stateDir: join(dir, 'st'),
        backoffBaseMs: 200,
      }),
    );
    const pidfile = join(dir, 'b.pid');
    const started = await agentCmd('-c', cfg, '-P', pidfile, '-L', join(dir, 'b.log'));
    // The parent returns only once the daemon holds its pidfile, and names its pid.
    expect(started.code, started.err).toBe(0);
    const announced = Number(started.out.match(/daemon started, pid (\d+)/)?.[1]);
    const pid: number = await waitUntil(() => (existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8')) : 0), {
      what: 'pidfile',
    });
    expect(pid).toBe(announced);
    cleanup.push(async () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    });
    // Still alive while it backs off against a dead server.
    await waitUntil(
      () => readFileSync(join(dir, 'b.log'), 'utf8').match(/reconnecting after delay[\s\S]*reconnecting after delay/),
      { what: 'two retries' },
    );
    expect(() => process.kill(pid, 0)).not.toThrow();
    const second = await agentCmd('-f', '-c', cfg, '-P', pidfile);
    expect(second.code).not.toBe(0);
    expect(second.err).toMatch(/held by running process/);
    // In the background too: the parent reports the daemon's refusal and exits non-zero.
    const third = await agentCmd('-c', cfg, '-P', pidfile);
    expect(third.code).not.toBe(0);
    expect(third.err).toMatch(/daemon failed to start: .*held by running process/);
    process.kill(pid, 'SIGTERM');
    await waitUntil(() => !existsSync(pidfile), { what: 'pidfile removed on stop' });
  });
});

describe('channel lifecycle against real servers', () => {
  let a: AspireHandle;
  let b: AspireHandle;
  let agent: BasicAgentHandle;

  it('follows a redirect to the listed server, and reconnects after that server restarts', async () => {
    b = await startAspire({ hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile } });
    cleanup.push(() => b.stop());
    a = await startAspire({
      hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile, redirect: `127.0.0.1:${b.hubAddress!.port}` },
    });
    cleanup.push(() => a.stop());
    // The AgentSN comes from BootAgent's metafile (only its agentsn is read).
    const meta = join(dir, 'meta.json');
    writeFileSync(
      meta,
      JSON.stringify({ version: 1, agentsn: 'b19ffa7e-712e-46d4-b328-2d2892c96076', credential: 'secret' }),
    );
    agent = await startBasicAgent({
      port: a.hubAddress!.port,
      caFile: ca.caCertFile,
      hostname: 'roamer',
      config: { bootMetafile: meta },
    });
    cleanup.push(() => agent.stop());
    expect(agent.child.output).toMatch(/channel: redirected/);
    const ask = (srv: AspireHandle) =>
      srv.api('POST', '/api/v1/server/polaris', { hosts: ['roamer'], method: 'sync.bash', cmd: 'echo hi' });
    expect((await ask(b)).body.response[0]).toMatchObject({ resp: 'success', data: 'hi\n' });
    expect((await ask(a)).body.response[0]).toMatchObject({ resp: 'failed', retcode: 203 });
    const bySn = await b.api('POST', '/api/v1/server/polaris', {
      hosts: ['b19ffa7e-712e-46d4-b328-2d2892c96076'],
      method: 'sync.bash',
      cmd: 'hostname >/dev/null; echo sn',
    });
    expect(bySn.body.response[0]).toMatchObject({ resp: 'success', data: 'sn\n' });
    expect(agent.child.output).not.toContain('secret');

    // The server goes away and comes back on the same ports: the agent finds it again.
    const sessions = agent.child.output.match(/channel: connected/g)!.length;
    await b.restart();
    await waitUntil(() => agent.child.output.match(/channel: connected/g)!.length > sessions, {
      timeoutMs: 30_000,
      what: 'reconnect',
    });
    await waitUntil(async () => (await ask(b)).body.response[0].resp === 'success', {
      timeoutMs: 15_000,
      what: 'answer after restart',
    });

    // The agent dies in the middle of a command: the caller gets "not connected" at once, not
    // a wait for the command's timeout, and the server keeps serving.
    const orphanPid = join(dir, 'orphan.pid');
    const pending = b.api('POST', '/api/v1/server/polaris', {
      hosts: ['roamer'],
      method: 'sync.bash',
      cmd: `echo $$ > ${orphanPid}; exec sleep 30`,
      timeout: 60,
    });
    await waitUntil(async () => (await b.api('GET', '/api/v1/server/polaris/agents')).body.agents[0]?.inflight === 1, {
      what: 'command in flight',
    });
    const t0 = Date.now();
    agent.child.killGroup('SIGKILL');
    const r = await pending;
    expect(r.body.response[0]).toMatchObject({
      host: 'roamer',
      resp: 'failed',
      retcode: ErrorCode.CHANNEL_NOT_CONNECTED,
    });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await ask(b)).body.response[0]).toMatchObject({ retcode: ErrorCode.NO_SUCH_HOST });
    // The command outlived its kill -9'd agent (its own process group): clean it up.
    process.kill(Number(readFileSync(orphanPid, 'utf8')), 'SIGKILL');
  });
});
