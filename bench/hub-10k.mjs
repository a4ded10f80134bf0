#!/usr/bin/env node
// Benchmark (not a test): Polaris sync.bash fan-out through the real aspire hub to 1,000 and
// 10,000 simulated BasicAgent channels (bench/lib/scale-channels.mjs in their own process: mutual
// TLS with a host certificate each, canned replies), beside a bare node:tls hub
// (bench/lib/bare-hub.mjs: mutual TLS, JSON lines, nothing else) holding the same number of
// channels from a second simulator process. Per size: the server RSS each channel costs (RSS with
// every channel accepted minus RSS before, divided by the count), then --runs fan-outs to all
// channels, interleaved bare, aspire, bare, aspire, ...: time to the complete answer (p50, p99,
// min) and when each host's command arrived (p50, p99 over every host of every run).
//
//   npx node bench/hub-10k.mjs [--channels 1000,10000] [--runs 5]
//
// Also printed per hub: the simulator's CPU and run-queue wait during the fan-outs (near 100 %
// together, it set the pace). The server's CPU profile of a run:
//   ASPIRE_SERVER_V8_FLAGS='--max-semi-space-size=4 --cpu-prof --cpu-prof-dir=DIR' npx node bench/hub-10k.mjs ...
import { fork, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchResult } from './bench-result.mjs';
import { setup } from './basic-helpers.mjs';
import { BENCH_SERVER_CONFIG, machineLine, quantile, seedSqlite, sha256Hex } from './lib/scale-setup.mjs';

const { values } = parseArgs({
  options: { channels: { type: 'string', default: '1000,10000' }, runs: { type: 'string', default: '5' } },
});
const sizes = values.channels.split(',').map(Number);
const RUNS = Number(values.runs);
if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 10_000) || !(RUNS >= 1)) {
  console.error('usage: hub-10k.mjs [--channels N1,N2 (each 1..10000)] [--runs R>=1]');
  process.exit(2);
}
const command = `npx node bench/hub-10k.mjs --channels ${values.channels} --runs ${RUNS}`;
// Each server and each simulator holds one descriptor per channel (they inherit this limit).
const nofile = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 0);
if (nofile < Math.max(...sizes) + 1000) {
  console.error(
    `hub-10k.mjs: open files limit ${nofile} is too low; run under \`ulimit -n ${Math.max(...sizes) + 1000}\``,
  );
  process.exit(2);
}

const simHost = (i) => ({ agentsn: `sim-sn-${i}`, hostname: `sim-${i}`, credentialHash: sha256Hex(`sim-${i}`) });
const rssKiB = (pid) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const nowMs = () => performance.timeOrigin + performance.now();
const ms = (x) => `${x.toFixed(1)} ms`.padStart(10);
const pct = (x) => `${(100 * x).toFixed(0)} %`;
const settle = (t) => new Promise((r) => setTimeout(r, t));

const { helpers, cleanup } = await setup();
const tls = helpers.makeTestCa();
const hostCa = helpers.sharedTestHostCa();
const work = mkdtempSync(join(tmpdir(), 'aspire-bench-hub-'));
const stops = [];

/** A simulator process (bench/lib/scale-channels.mjs) and a request/answer call over IPC. */
async function startSims() {
  const child = fork(new URL('./lib/scale-channels.mjs', import.meta.url).pathname, [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const call = (m) =>
    new Promise((resolve, reject) => {
      const onExit = (c) => reject(new Error(`scale-channels.mjs exited ${c}`));
      child.once('exit', onExit);
      child.once('message', (r) => {
        child.off('exit', onExit);
        if (r.op === 'error') reject(new Error(`simulated channels: ${r.message}`));
        else resolve(r);
      });
      child.send(m);
    });
  const stop = async () => {
    if (child.exitCode !== null || !child.connected) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.send({ op: 'close' });
    await Promise.race([gone, settle(5000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  stops.push(stop);
  await call({ op: 'init', hostCaCertFile: hostCa.certFile, hostCaKeyFile: hostCa.keyFile, hubCa: tls.caCert });
  return { call, stop };
}

async function startBareHub() {
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, 'lib', 'bare-hub.mjs'), tls.serverCertFile, tls.serverKeyFile, hostCa.certFile],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const stop = () =>
    new Promise((r) => {
      if (child.exitCode !== null) return r();
      child.once('exit', r);
      child.kill('SIGTERM');
    });
  stops.push(stop);
  const [tlsPort, httpPort] = await new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d) => {
      const m = /bare-hub: tls (\d+) http (\d+)/.exec(d);
      if (m) resolve([Number(m[1]), Number(m[2])]);
    });
    child.once('exit', (c) => reject(new Error(`bare-hub.mjs exited ${c}`)));
  });
  const fanOut = async () => {
    const r = await fetch(`http://127.0.0.1:${httpPort}/fanout`, { method: 'POST' });
    return (await r.json()).ok;
  };
  return { pid: child.pid, port: tlsPort, fanOut, stop };
}

/** The aspire server with its hub, the hosts seeded into its SQLite database (server stopped). */
async function startAspireHub(n) {
  const dataDir = join(work, `data-${n}`);
  mkdirSync(dataDir);
  const opts = {
    dataDir,
    config: BENCH_SERVER_CONFIG,
    // The bare hub has no handshake deadline: on a loaded machine 100 handshakes in flight can
    // outlast the default 10 s, which would only measure the connect phase's retries.
    hub: { certFile: tls.serverCertFile, keyFile: tls.serverKeyFile, handshakeTimeoutMs: 120_000 },
  };
  await (await helpers.startAspire(opts)).stop();
  seedSqlite(join(dataDir, 'aspire.db'), 0, n, simHost);
  const srv = await helpers.startAspire(opts);
  stops.push(() => srv.stop());
  const hosts = Array.from({ length: n }, (_, i) => simHost(i).hostname);
  const fanOut = async () => {
    const r = await srv.api('POST', '/api/v1/server/polaris', { hosts, method: 'sync.bash', cmd: 'true', timeout: 60 });
    return r.body.response?.filter((e) => e.resp === 'success').length ?? 0;
  };
  return { pid: srv.child.proc.pid, port: srv.hubAddress.port, fanOut, stop: () => srv.stop() };
}

/** Connect n channels to a hub; the server's RSS per channel, KiB. */
async function hold(sims, hub, n) {
  await settle(1000);
  const before = rssKiB(hub.pid);
  const hosts = Array.from({ length: n }, (_, i) => simHost(i));
  const c = await sims.call({ op: 'connect', set: 'x', entries: [{ host: '127.0.0.1', port: hub.port }], hosts });
  await settle(1000);
  return {
    perChannel: (rssKiB(hub.pid) - before) / n,
    connectMs: c.ms,
    connectRetries: c.retries,
    before,
    after: rssKiB(hub.pid),
  };
}

async function oneRun(sims, hub, n) {
  await sims.call({ op: 'mark' });
  const t0 = nowMs();
  const ok = await hub.fanOut();
  const total = nowMs() - t0;
  if (ok !== n) throw new Error(`fan-out: ${ok}/${n} answered success`);
  const { times, cpu, wait } = await sims.call({ op: 'arrivals' });
  return { total, deliveries: times.map((t) => t - t0), simCpu: cpu, simWait: wait };
}

const results = [];
try {
  for (const n of sizes) {
    const bare = await startBareHub();
    const aspire = await startAspireHub(n);
    const simsBare = await startSims();
    const simsAspire = await startSims();
    const setups = [
      { name: 'bare node:tls hub', hub: bare, sims: simsBare, ...(await hold(simsBare, bare, n)) },
      { name: 'aspire hub', hub: aspire, sims: simsAspire, ...(await hold(simsAspire, aspire, n)) },
    ];
    for (const s of setups) await oneRun(s.sims, s.hub, n); // warm-up, not counted
    for (const s of setups) Object.assign(s, { totals: [], deliveries: [], simCpu: [], simWait: [] });
    for (let r = 0; r < RUNS; r++) {
      for (const s of setups) {
        const f = await oneRun(s.sims, s.hub, n);
        s.totals.push(f.total);
        s.deliveries.push(...f.deliveries);
        s.simCpu.push(f.simCpu);
        s.simWait.push(f.simWait);
      }
    }
    console.log(
      `sync.bash 'true' to ${n.toLocaleString('en')} channels (mutual TLS, canned replies), ${RUNS} runs each, A B A B`,
    );
    console.log(`  ${machineLine()}`);
    for (const s of setups) {
      s.p50 = quantile(s.totals, 0.5);
      s.p99 = quantile(s.totals, 0.99);
      console.log(
        `  ${s.name.padEnd(18)} complete answer p50 ${ms(s.p50)} p99 ${ms(s.p99)} min ${ms(Math.min(...s.totals))}` +
          `   command at a host p50 ${ms(quantile(s.deliveries, 0.5))} p99 ${ms(quantile(s.deliveries, 0.99))}` +
          `   RSS ${(s.before / 1024).toFixed(1)} -> ${(s.after / 1024).toFixed(1)} MiB, ${s.perChannel.toFixed(1)} KiB per channel (connect ${(s.connectMs / 1000).toFixed(1)} s, ${s.connectRetries} retried)`,
      );
      // Near 100 % together: the simulator, not the hub, set the pace of that run.
      console.log(
        `  ${''.padEnd(18)} simulator during a fan-out: CPU ${pct(quantile(s.simCpu, 0.5))}, waiting for a core ${pct(quantile(s.simWait, 0.5))} (medians)`,
      );
    }
    const [b, a] = setups;
    console.log(
      `  aspire / bare: p50 ${(a.p50 / b.p50).toFixed(2)}x, p99 ${(a.p99 / b.p99).toFixed(2)}x, RSS per channel ${(a.perChannel / b.perChannel).toFixed(2)}x`,
    );
    const size = n >= 1000 ? `${(n / 1000).toLocaleString('en')}k` : String(n);
    results.push(
      {
        metric: `fan-out sync.bash to ${size} channels, p50`,
        figure: a.p50,
        unit: 'ms',
        baseline: b.p50,
        ratio: a.p50 / b.p50,
        target: n >= 10_000 ? '-' : 'keep (~1x)',
        command,
      },
      {
        metric: `fan-out sync.bash to ${size} channels, p99`,
        figure: a.p99,
        unit: 'ms',
        baseline: b.p99,
        ratio: a.p99 / b.p99,
        target: n >= 10_000 ? '< 2000 ms' : 'keep (~1x)',
        command,
      },
      {
        metric: `server RSS per channel, ${size} channels`,
        figure: a.perChannel,
        unit: 'KiB',
        baseline: b.perChannel,
        ratio: a.perChannel / b.perChannel,
        target: n >= 10_000 ? 'report' : '~1x',
        command,
      },
    );
    for (const stop of stops.splice(0).reverse()) await stop().catch((e) => console.error(`stop: ${e.message}`));
  }
} finally {
  for (const stop of stops.reverse()) await stop().catch((e) => console.error(`stop: ${e.message}`));
  tls.cleanup();
  cleanup();
  rmSync(work, { recursive: true, force: true });
}
for (const r of results) benchResult(r);
