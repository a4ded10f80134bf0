// Day 1 (issue 15 item 1): `servers` in boot.json, `boot -T` when no server is known from any
// source (exit 2 and a message saying where to set one), and a boot without a server waiting
// quietly (one log line per backoff) until boot.json names one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Child, binary, startAspire, startBoot, waitUntil, type AspireHandle, type BootHandle } from '@aspire/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let srv: AspireHandle;
const boots: BootHandle[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'boot-servers-'));
  srv = await startAspire();
});
afterAll(async () => {
  for (const b of boots) {
    await b.stop().catch(() => undefined);
    b.cleanup();
  }
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function runBoot(args: string[]): Promise<{ code: number | null; output: string }> {
  const bin = binary('boot');
  const child = new Child(bin.cmd, [...bin.args, ...args]);
  const exit = await child.exited;
  await new Promise((r) => setImmediate(r));
  return { code: exit.code, output: child.output };
}

async function hostOnline(agentsn: string): Promise<boolean> {
  const r = await srv.api('GET', `/api/v1/server/agent?agentsn=${agentsn}`);
  return r.status === 200 && r.body?.host?.agentsn === agentsn;
}

describe('servers in boot.json', () => {
  it('boot -T exits 2 naming boot.json when no server is known from any source; --allow-no-server accepts it', async () => {
    const cfg = join(dir, 'empty.json');
    writeFileSync(cfg, JSON.stringify({ step: 5, servers: [] }));
    const state = join(dir, 'state-none');
    const r = await runBoot(['-T', '-c', cfg, '-d', state]);
    expect(r.code).toBe(2);
    expect(r.output).toContain('boot: no server known');
    expect(r.output).toContain(`"servers" in ${cfg}`);
    const allowed = await runBoot(['-T', '--allow-no-server', '-c', cfg, '-d', state]);
    expect(allowed.code).toBe(0);
    expect(allowed.output).toMatch(/is valid/);
  }, 180_000);

  it('boot -T accepts a config whose servers key names one, and names a bad entry', async () => {
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ servers: ['127.0.0.1:9', 'https://127.0.0.1:10'] }));
    const ok = await runBoot(['-T', '-c', good, '-d', join(dir, 'state-good')]);
    expect(ok.code).toBe(0);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ servers: ['ftp://127.0.0.1:21'] }));
    const r = await runBoot(['-T', '-c', bad, '-d', join(dir, 'state-bad')]);
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/servers: server "ftp:\/\/127.0.0.1:21": only http and https/);
    writeFileSync(bad, JSON.stringify({ servers: 42 }));
    expect((await runBoot(['-T', '-c', bad, '-d', join(dir, 'state-bad')])).output).toMatch(
      /servers: must be an array of strings/,
    );
  }, 180_000);

  it('a boot with servers only in boot.json (no -S) registers and pushes', async () => {
    const boot = await startBoot({ enrollSecret: srv.enrollSecret, config: { servers: [srv.url] } });
    boots.push(boot);
    const meta = await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta() : undefined), {
      timeoutMs: 30_000,
      what: 'registered from boot.json servers',
    });
    // The metafile keeps -S only; boot.json's list is read again at every start.
    expect(meta.servers).toEqual([]);
    await waitUntil(() => hostOnline(meta.agentsn), { timeoutMs: 30_000, what: 'host known to the server' });
  }, 180_000);

  it('without any server boot waits quietly (one line per backoff, no exit), then registers once boot.json names one', async () => {
    const boot = await startBoot({ enrollSecret: srv.enrollSecret, config: { servers: [] } });
    boots.push(boot);
    await boot.waitForLog(/^no server known yet/, { timeoutMs: 30_000 });
    await waitUntil(() => boot.logLines().filter((l) => /^no server known yet/.test(String(l.msg))).length >= 2, {
      timeoutMs: 30_000,
      what: 'a second wait line',
    });
    expect(boot.child.proc.exitCode).toBeNull();
    const waits = boot.logLines().filter((l) => /^no server known yet/.test(String(l.msg)));
    // One line per backoff round: each carries the growing delay, nothing else is logged per round.
    expect(waits.every((l) => l.level === 'warn' && typeof l.retryInMs === 'number')).toBe(true);
    expect(boot.logLines().filter((l) => /server list is empty|registration failed/.test(String(l.msg)))).toEqual([]);
    writeFileSync(
      boot.configFile,
      JSON.stringify({ step: 1, httpTimeoutSec: 5, enrollSecret: srv.enrollSecret, servers: [srv.url] }),
    );
    await boot.waitForLog(/^boot.json now names a server$/, { timeoutMs: 90_000 });
    const meta = await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta() : undefined), {
      timeoutMs: 30_000,
      what: 'registered after the edit',
    });
    await waitUntil(() => hostOnline(meta.agentsn), { timeoutMs: 30_000, what: 'host known to the server' });
  }, 180_000);
});
