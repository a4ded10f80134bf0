// Issue 14's second must-show, end to end on real parts: the real server (product tree, policies,
// GET /api/v1/agent/policy signed for each host), three real hosts (a `boot` each), and the real
// BasicAgent installed by the policy itself from a package registered on the server, connected
// to the server's hub with the host identity its BootAgent got. A policy at a service node
// installs the BasicAgent on the three hosts and sets two managed periodic tasks; a
// component-level override changes one task on one host; a hand edit of the managed crontab
// section is repaired and reported as drift, and so is a BasicAgent an operator's job removed
// (found by the low-frequency full pull); removing the policies removes them, and the host's
// own crontab lines stay as they were throughout (docs/lifecycle.md "Desired state").
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '@aspire/agent-core';
import {
  type AspireHandle,
  binary,
  type BootHandle,
  makeTestCa,
  startAspire,
  startBoot,
  type TestCa,
  waitUntil,
} from '@aspire/testing';

const ARCH = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
const HOSTS = ['pc-host-1', 'pc-host-2', 'pc-host-3'];
const API = '/api/v1/server';

let srv: AspireHandle;
let ca: TestCa;
let work: string;
const hosts: { name: string; dir: string; crontab: string; out: string; boot: BootHandle; sn: string }[] = [];

/** The host's own crontab: a variable the managed tasks use and a task of its own. */
const ownLines = (out: string) => `# this host's own lines\nOUT=${out}\n* * * * * * root echo own >> ${out}/own\n`;

/**
 * The BasicAgent as an operator would ship it for this test: a start script that writes its
 * basic.json from where its BootAgent put it (ASPIRE_AGENT_HOME = STATE/agents/BasicAgent) and
 * runs the real BasicAgent bundle: the host identity, the pinned key and the metafile are its
 * BootAgent's, the crontab is the one the BootAgent manages (`policy.crontab`, HOSTDIR/crontab).
 */
async function basicAgentPackage(): Promise<string> {
  const stage = mkdtempSync(join(work, 'pkg-stage-'));
  const bin = binary('BasicAgent');
  const argv = [bin.cmd, ...bin.args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const hub = srv.hubAddress!;
  writeFileSync(
    join(stage, 'start.sh'),
    [
      '#!/bin/sh',
      'BOOT="$ASPIRE_AGENT_HOME/../.."',
      'HOSTDIR="$BOOT/.."',
      // Three hosts share this machine's hostname: each test host names itself in HOSTDIR/hostname.
      'NAME=$(cat "$HOSTDIR/hostname")',
      'cat > "$ASPIRE_AGENT_HOME/basic.json" <<EOF',
      JSON.stringify({
        serverHost: hub.host,
        serverPort: hub.port,
        hostname: '$NAME',
        ca: ca.caCertFile,
        crontab: '$HOSTDIR/crontab',
        crontabCheckSec: 1,
        stateDir: '$ASPIRE_AGENT_HOME/basic-state',
        bootMetafile: '$BOOT/meta.json',
        serverPublicKey: '$BOOT/identity/server-signing.pub',
        tlsClientCert: '$BOOT/identity/host.crt',
        tlsClientKey: '$BOOT/identity/host.key',
        heartbeatSec: 2,
        backoffBaseMs: 100,
        backoffMaxMs: 1000,
        timezone: 'UTC',
        policy: '$ASPIRE_AGENT_HOME/no-host-policy.json',
      }),
      'EOF',
      `exec ${argv} -f -c "$ASPIRE_AGENT_HOME/basic.json"`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(stage, 'agent.json'),
    JSON.stringify({ name: 'BasicAgent', version: '1.0.0', start: ['/bin/sh', 'start.sh'], stop: 'kill:SIGTERM' }),
  );
  const file = join(work, 'BasicAgent-1.0.0.tar.gz');
  await tar.c({ gzip: true, file, cwd: stage, portable: true }, ['agent.json', 'start.sh']);
  return file;
}

async function api(method: string, path: string, body?: unknown) {
  const r = await srv.api(method, `${API}${path}`, body);
  expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBeLessThan(300);
  return r.body;
}

const hostPolicy = (sn: string) => api('GET', `/host/${sn}/policy`);
const section = (text: string) => {
  const m = /# BEGIN ASPIRE MANAGED SECTION[^\n]*\n([\s\S]*?)# END ASPIRE MANAGED SECTION\n/.exec(text);
  return m ? m[1]! : undefined;
};
const basicPid = (h: (typeof hosts)[number]): number | undefined => {
  try {
    return JSON.parse(readFileSync(join(h.boot.stateDir, 'agents', 'BasicAgent', 'state.json'), 'utf8')).pid;
  } catch {
    return undefined;
  }
};
/** Lines the managed tasks (and the host's own) appended, once they ran a few times. */
const grown = (file: string, n = 2) => existsSync(file) && readFileSync(file, 'utf8').split('\n').length > n;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-policy-converge-'));
  ca = makeTestCa();
  srv = await startAspire({ hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile } });
  const pkg = readFileSync(await basicAgentPackage());
  const q = new URLSearchParams({
    name: 'BasicAgent',
    version: '1.0.0',
    os: 'linux',
    arch: ARCH,
    file: 'BasicAgent-1.0.0.tar.gz',
  });
  const up = await fetch(`${srv.url}${API}/package?${q}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/octet-stream' },
    body: pkg,
  });
  expect(up.status, await up.clone().text()).toBe(200);
  for (const name of HOSTS) {
    const dir = mkdtempSync(join(work, `${name}-`));
    const out = join(dir, 'out');
    mkdirSync(out);
    const crontab = join(dir, 'crontab');
    writeFileSync(crontab, ownLines(out));
    writeFileSync(join(dir, 'hostname'), name);
    const boot = await startBoot({
      serverUrl: srv.url,
      enrollSecret: srv.enrollSecret,
      stateDir: join(dir, 'state'),
      config: {
        hostname: name,
        // A full pull every few seconds: the low-frequency check that catches drift the hash cannot.
        policy: { crontab, fullCheckSec: 6 },
        supervision: { checkIntervalSec: 0.5, restartHoldSec: 1 },
      },
    });
    await waitUntil(() => boot.readMeta()?.trusted === true, { timeoutMs: 30_000, what: `${name} trusted` });
    hosts.push({ name, dir, crontab, out, boot, sn: boot.readMeta()!.agentsn });
  }
}, 120_000);

afterAll(async () => {
  for (const h of hosts) {
    const pid = basicPid(h);
    await h.boot.stop().catch(() => undefined);
    // Sub-agents outlive their BootAgent by design: the test ends the one it made.
    if (pid && isAlive(pid))
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  }
  await srv?.stop();
  ca?.cleanup();
});

describe('desired state converges on three real hosts', () => {
  it('installs, overrides per component, repairs a hand edit and a removed sub-agent as drift, removes on policy removal', async () => {
    const product = (await api('POST', '/tree/node', { kind: 'product', name: 'shop' })).node;
    const service = (await api('POST', '/tree/node', { kind: 'service', name: 'web', parent: product.id })).node;
    const front = (await api('POST', '/tree/node', { kind: 'component', name: 'front', parent: service.id })).node;
    const edge = (await api('POST', '/tree/node', { kind: 'component', name: 'edge', parent: service.id })).node;
    await api('POST', `/tree/node/${front.id}/hosts`, { agents: [hosts[0]!.sn, hosts[1]!.sn] });
    await api('POST', `/tree/node/${edge.id}/hosts`, { agents: [hosts[2]!.sn] });

    const tick = { name: 'tick', user: 'root', schedule: '* * * * * *', command: 'echo tick >> $OUT/tick' };
    const tock = { name: 'tock', user: 'root', schedule: '* * * * * *', command: 'echo tock >> $OUT/tock' };
    const tockEdge = { ...tock, command: 'echo edge >> $OUT/tock-edge' };
    await api('PUT', `/policy/node/${service.id}`, {
      subagents: [{ name: 'BasicAgent', version: '1.0.0' }],
      periodic: [tick, tock],
    });
    await api('PUT', `/policy/node/${edge.id}`, { periodic: [tockEdge] });

    // Every host reports the policy applied: the BasicAgent runs and the managed tasks are in place.
    for (const h of hosts)
      await waitUntil(async () => (await hostPolicy(h.sn)).in_sync === true, {
        timeoutMs: 90_000,
        what: `${h.name} in sync with its policy`,
      });
    for (const [i, h] of hosts.entries()) {
      const pid = basicPid(h);
      expect(pid && isAlive(pid), `${h.name} BasicAgent running`).toBeTruthy();
      const text = readFileSync(h.crontab, 'utf8');
      expect(text.startsWith(ownLines(h.out)), `${h.name}: own lines first and untouched`).toBe(true);
      const want = i === 2 ? tockEdge : tock;
      expect(section(text)).toBe(
        `# task: tick\n* * * * * * root ${tick.command}\n# task: tock\n* * * * * * root ${want.command}\n`,
      );
      const eff = await hostPolicy(h.sn);
      expect(eff.origin.tock).toBe(`node:${i === 2 ? edge.id : service.id}`);
      // The real BasicAgent runs both managed tasks (each host's own OUT) and the host's own line.
      await waitUntil(
        () =>
          grown(join(h.out, 'tick')) && grown(join(h.out, i === 2 ? 'tock-edge' : 'tock')) && grown(join(h.out, 'own')),
        { timeoutMs: 30_000, what: `${h.name} managed tasks running` },
      );
      expect(existsSync(join(h.out, i === 2 ? 'tock' : 'tock-edge'))).toBe(false);
    }
    // It is connected to the hub with its BootAgent's identity: a real host, not a process on its own.
    await waitUntil(
      async () => {
        const r = await srv.api('GET', `${API}/polaris/agents`);
        const names = ((r.body?.agents ?? []) as { hostname: string }[]).map((a) => a.hostname);
        return HOSTS.every((n) => names.includes(n));
      },
      { timeoutMs: 30_000, what: 'three BasicAgents on the hub' },
    );

    // A hand edit of the managed section on host 1: put back and reported as drift.
    const h1 = hosts[0]!;
    const good = readFileSync(h1.crontab, 'utf8');
    writeFileSync(h1.crontab, good.replace('echo tock >> $OUT/tock', 'echo hacked >> $OUT/hacked'));
    await waitUntil(() => readFileSync(h1.crontab, 'utf8') === good, {
      timeoutMs: 30_000,
      what: 'the managed section repaired',
    });
    const drift = await waitUntil(
      async () => {
        const d = (await hostPolicy(h1.sn)).drift as { data?: { repaired?: { kind: string; name: string }[] } }[];
        return d.find((e) => e.data?.repaired?.some((r) => r.kind === 'periodic' && r.name === 'tock'));
      },
      { timeoutMs: 30_000, what: 'the drift event on the server' },
    );
    expect(drift.data!.repaired).toContainEqual({
      kind: 'periodic',
      name: 'tock',
      was: '* * * * * * root echo hacked >> $OUT/hacked',
      now: '* * * * * * root echo tock >> $OUT/tock',
    });
    expect((await hostPolicy(h1.sn)).in_sync).toBe(true);

    // An operator uninstalls the BasicAgent on host 2 with a job: the policy's hash does not
    // change, the next full pull finds it missing, installs it again and reports the drift.
    const h2 = hosts[1]!;
    const before = basicPid(h2)!;
    const job = await api('POST', '/task', {
      command: 'uninstall',
      agents: [h2.sn],
      parameters: { name: 'BasicAgent' },
    });
    await waitUntil(
      async () => {
        const t = await api('GET', `/task?id=${job.id}`);
        return t.subtasks?.[0]?.state === 'SUCCESS';
      },
      { timeoutMs: 60_000, what: 'the uninstall job done' },
    );
    const back = await waitUntil(
      async () => {
        const d = (await hostPolicy(h2.sn)).drift as { data?: { repaired?: Record<string, unknown>[] } }[];
        return d.find((e) => e.data?.repaired?.some((r) => r.kind === 'subagent' && r.name === 'BasicAgent'));
      },
      { timeoutMs: 60_000, what: 'the full check reinstalling the BasicAgent, reported as drift' },
    );
    expect(back.data!.repaired).toContainEqual({ kind: 'subagent', name: 'BasicAgent', was: null, now: '1.0.0' });
    const again = await waitUntil(() => basicPid(h2), { timeoutMs: 30_000, what: 'BasicAgent running again' });
    expect(again).not.toBe(before);
    expect(isAlive(before)).toBe(false);
    expect(isAlive(again)).toBe(true);

    // Removing the policies removes what they installed and the managed sections; own lines stay.
    const pids = hosts.map((h) => basicPid(h)!);
    await api('DELETE', `/policy/node/${edge.id}`);
    await api('DELETE', `/policy/node/${service.id}`);
    for (const [i, h] of hosts.entries()) {
      await waitUntil(() => readFileSync(h.crontab, 'utf8') === ownLines(h.out) && !isAlive(pids[i]!), {
        timeoutMs: 60_000,
        what: `${h.name} back to its own lines, BasicAgent removed`,
      });
      expect(existsSync(join(h.boot.stateDir, 'agents', 'BasicAgent'))).toBe(false);
      await waitUntil(async () => (await hostPolicy(h.sn)).in_sync === true, {
        timeoutMs: 30_000,
        what: `${h.name} in sync with the empty policy`,
      });
    }
  }, 300_000);
});
