// The daemon fields as the design writes them (issue 14 item 3), on the sub-agent manager
// in-process with REAL child processes, REAL unix and TCP sockets and a REAL loopback package
// server: a bare `stop` command runs as a command, `socket` is a liveness check counted like a
// dead process, and `;` in envs follows the documented rule (docs/supervision.md).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive, realClock, silentLogger } from '@aspire/agent-core';
import { ErrorCode, type EventKind, type SubAgentJob } from '@aspire/protocol';
import { waitUntil } from '@aspire/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SubAgentManager } from '../../packages/boot-agent/src/contracts.ts';
import { createSubAgentManager } from '../../packages/boot-agent/src/subagents/manager.ts';
import { packFixture } from '../../packages/testing/fixtures/pack-fixture.ts';
import { type PackageServer, startPackageServer } from '../../packages/testing/fixtures/package-server.ts';
import { QUICK_SUPERVISION } from '../../packages/testing/fixtures/subagent-test-kit.ts';

let srv: PackageServer;
let work: string;
const managers: SubAgentManager[] = [];

beforeAll(async () => {
  srv = await startPackageServer();
  work = mkdtempSync(join(tmpdir(), 'aspire-daemon-fields-'));
});

afterEach(async () => {
  for (const m of managers.splice(0)) {
    await m.stop();
    for (const r of m.reports())
      if (r.pid)
        try {
          process.kill(-r.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
  }
});

afterAll(async () => {
  await srv.close();
  rmSync(work, { recursive: true, force: true });
});

type Ev = { kind: EventKind; message: string; agent?: string | undefined };

async function setup() {
  const events: Ev[] = [];
  const m = createSubAgentManager({
    clock: realClock,
    logger: silentLogger(),
    events: { emit: (kind, message, o) => events.push({ kind, message, agent: o?.agent }) },
    stateDir: mkdtempSync(join(work, 'state-')),
    config: { ...QUICK_SUPERVISION, restartHoldSec: 0.3, cgroupRoot: '/nonexistent-cgroup-root' },
    cgroupParent: `aspire-test-${process.pid}`,
  });
  managers.push(m);
  await m.start();
  return { m, events };
}

let seq = 0;
const job = (action: SubAgentJob['action'], name: string, extra: Partial<SubAgentJob> = {}): SubAgentJob => ({
  id: `df-${++seq}`,
  action,
  name,
  ...extra,
});

async function install(
  m: SubAgentManager,
  name: string,
  spec: Record<string, unknown>,
  extra: Partial<SubAgentJob> = {},
) {
  const p = await packFixture({
    fixture: 'idle-agent',
    name,
    version: '1.0.0',
    outDir: mkdtempSync(join(work, 'pkg-')),
    spec,
  });
  const url = srv.put(`/${name}/${name}-1.0.0.tar.gz`, p.file);
  return m.handleJob(job('install', name, { url, checksum: p.checksum, ...extra }), new AbortController().signal);
}

/** A start command: a node process listening on the socket named by LISTEN (a path or a port; `none`: it only idles). */
const listener = (): string[] => [
  process.execPath,
  '-e',
  "const l=process.env.LISTEN;if(l!=='none')require('node:net').createServer(s=>s.end()).listen(/^\\d+$/.test(l)?{port:+l,host:'127.0.0.1'}:l);setInterval(()=>{},1e9)",
];

const report = (m: SubAgentManager, name: string) => m.reports().find((r) => r.name === name);
const envOf = (pid: number) =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('daemon fields as the design writes them', () => {
  it('a bare stop command (no process:/kill: prefix) runs as a command and the agent ends by it', async () => {
    const { m, events } = await setup();
    const stop = `${process.execPath} -e "process.kill(Number(process.env.ASPIRE_AGENT_PID), 'SIGUSR2')"`;
    expect((await install(m, 'Bare', { stop, stop_timeout: 30 })).errcode).toBe(0);
    const pid = report(m, 'Bare')!.pid!;
    const t0 = Date.now();
    expect((await m.handleJob(job('stop', 'Bare'), new AbortController().signal)).errcode).toBe(0);
    expect(Date.now() - t0).toBeLessThan(20_000); // the command did it, not the 30 s SIGKILL
    expect(isAlive(pid)).toBe(false);
    expect(events.find((e) => e.kind === 'exit' && e.agent === 'Bare')?.message).toMatch(/SIGUSR2/);
  });

  it('socket (unix): a listening agent stays up; one whose socket never answers is killed and counted a strike', async () => {
    const { m, events } = await setup();
    const good = join(work, `good-${process.pid}.sock`);
    // Checked every 2 s: a loaded machine may take a while to start node and listen.
    const spec = { start: listener(), check_interval: 2 };
    expect((await install(m, 'Listens', { ...spec, socket: good, env: { LISTEN: good } })).errcode).toBe(0);
    const none = join(work, `none-${process.pid}.sock`);
    expect((await install(m, 'Deaf', { ...spec, socket: `unix:${none}`, env: { LISTEN: 'none' } })).errcode).toBe(0);
    const pid = report(m, 'Listens')!.pid!;
    await waitUntil(() => events.some((e) => e.kind === 'strike' && e.agent === 'Deaf'), {
      timeoutMs: 20_000,
      what: 'the deaf agent killed by its socket check and counted',
    });
    expect(events.find((e) => e.kind === 'exit' && e.agent === 'Deaf')?.message).toMatch(/SIGKILL/);
    // Many check intervals later the listening one still runs with the same pid, never struck.
    expect(report(m, 'Listens')).toMatchObject({ pid, status: 'running' });
    expect(events.filter((e) => e.agent === 'Listens').map((e) => e.kind)).not.toContain('exit');
  });

  it('socket (tcp host:port): a listening agent stays up; a closed port gets it killed and restarted', async () => {
    const { m, events } = await setup();
    const [open, closed] = [await freePort(), await freePort()];
    // Checked every 2 s: a loaded machine may take a while to start node and listen.
    const spec = { start: listener(), check_interval: 2 };
    expect(
      (await install(m, 'TcpUp', { ...spec, socket: `tcp://127.0.0.1:${open}`, env: { LISTEN: String(open) } }))
        .errcode,
    ).toBe(0);
    expect(
      (await install(m, 'TcpDown', { ...spec, socket: `127.0.0.1:${closed}`, env: { LISTEN: 'none' } })).errcode,
    ).toBe(0);
    const pid = report(m, 'TcpUp')!.pid!;
    await waitUntil(() => events.filter((e) => e.kind === 'started' && e.agent === 'TcpDown').length >= 2, {
      timeoutMs: 20_000,
      what: 'TcpDown restarted after its socket check failed',
    });
    expect(events.some((e) => e.kind === 'strike' && e.agent === 'TcpDown')).toBe(true);
    expect(report(m, 'TcpUp')).toMatchObject({ pid, status: 'running' });
  });

  it('a socket field that is neither a path nor host:port is refused when the package is read', async () => {
    const { m } = await setup();
    const out = await install(m, 'BadSock', { socket: 'program.sock' });
    expect(out.errcode).toBe(ErrorCode.JOB_BAD_PACKAGE);
    expect(out.message).toMatch(/socket: "program.sock" is not a unix socket path/);
  });

  it("envs with ';': a PATH list as the design writes it becomes ':'; a mixed one is refused; other variables keep ';'", async () => {
    const { m } = await setup();
    const out = await install(m, 'Envs', {}, { envs: { PATH: '/usr/bin;/bin', NOTE: 'a;b' } });
    expect(out.errcode).toBe(0);
    const env = envOf(report(m, 'Envs')!.pid!);
    expect(env.PATH).toBe('/usr/bin:/bin');
    expect(env.NOTE).toBe('a;b');
    const mixed = await install(m, 'Mixed', {}, { envs: { LD_LIBRARY_PATH: '/a;/b:/c' } });
    expect(mixed.errcode).toBe(ErrorCode.JOB_INVALID);
    expect(mixed.message).toMatch(/envs.LD_LIBRARY_PATH: .* mixes ';' and ':'/);
    expect(report(m, 'Mixed')).toBeUndefined();
    const spec = await install(m, 'SpecEnv', { env: { PATH: '/usr/bin;/bin' } });
    expect(spec.errcode).toBe(0);
    expect(envOf(report(m, 'SpecEnv')!.pid!).PATH).toBe('/usr/bin:/bin');
  });
});
