#!/usr/bin/env node
// Benchmark (not a test): Polaris sync.bash fan-out across nodes (issue 12). --channels simulated
// BasicAgent channels (bench/lib/scale-channels.mjs, their own process: mutual TLS with a host
// certificate each, canned replies, like bench/basic-channel.mjs's clients) connect to
//   - three real `aspire` nodes on one PostgreSQL: channel i enters through node i mod 3's hub (DNS
//     round robin), following any placement `redirect`; the request goes to node 1, which runs
//     its third locally and routes the rest over LISTEN/NOTIFY to the nodes holding them;
//   - one real `aspire` node on PostgreSQL holding every channel (the same count): the baseline,
// and one POST /polaris {hosts: all, sync.bash true} is sent to each in turn (A B A B), --runs
// times. Prints per setup the time to the complete answer (p50, p99, min) and the time from the
// request to each host's command frame (p50, p99 over every host of every run), with ratios.
//
//   npx node bench/scale-fanout.mjs [--channels 3000] [--runs 10]
//        (or ASPIRE_BENCH_SCALE_CHANNELS, ASPIRE_BENCH_SCALE_RUNS)
import { fork } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { setup } from './basic-helpers.mjs';
import {
  benchResult,
  cpuSeconds,
  machineLine,
  median,
  min,
  ms,
  postgresCpuSeconds,
  quantile,
  seedPostgres,
  sha256Hex,
  sizeOf,
  startPgNodes,
} from './lib/scale-setup.mjs';

const { values } = parseArgs({ options: { channels: { type: 'string' }, runs: { type: 'string' } } });
const CHANNELS = sizeOf(values.channels, 'ASPIRE_BENCH_SCALE_CHANNELS', 3000);
const RUNS = sizeOf(values.runs, 'ASPIRE_BENCH_SCALE_RUNS', 10);
const IDLE_MS = 5000;
const simHost = (i) => ({ agentsn: `sim-sn-${i}`, hostname: `sim-${i}`, credentialHash: sha256Hex(`sim-${i}`) });
const hosts = Array.from({ length: CHANNELS }, (_, i) => simHost(i));
const nowMs = () => performance.timeOrigin + performance.now();
const rssMiB = (pid) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

const { helpers, cleanup } = await setup();
const tls = helpers.makeTestCa();
const started = [];

/** The simulated channels' process and a request/answer call over its IPC channel. */
function startSims() {
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
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  return { call, stop };
}

const clusterView = async (node) => (await node.api('GET', '/api/v1/server/cluster/nodes')).body;
async function waitFor(what, fn, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One fan-out to every host through `node`: total time and each host's command arrival. */
async function fanOut(sims, node) {
  await sims.call({ op: 'mark' });
  const t0 = nowMs();
  const r = await node.api('POST', '/api/v1/server/polaris', {
    hosts: hosts.map((h) => h.hostname),
    method: 'sync.bash',
    cmd: 'true',
    timeout: 60,
  });
  const total = nowMs() - t0;
  const ok = r.body.response?.filter((e) => e.resp === 'success').length ?? 0;
  if (ok !== CHANNELS)
    throw new Error(`fan-out: ${ok}/${CHANNELS} answered success: ${JSON.stringify(r.body).slice(0, 400)}`);
  const { times, cpu, wait } = await sims.call({ op: 'arrivals' });
  return { total, deliveries: times.map((t) => t - t0), simLoad: cpu + wait };
}

try {
  const pgh = await helpers.startPostgres({ database: 'bench_boot' });
  started.push(() => pgh.stop());
  const hub = { certFile: tls.serverCertFile, keyFile: tls.serverKeyFile };
  const three = await startPgNodes(helpers, pgh, 'fan_three', 3, { hub });
  started.push(...three.nodes.map((n) => () => n.stop()));
  const one = await startPgNodes(helpers, pgh, 'fan_one', 1, { hub });
  started.push(...one.nodes.map((n) => () => n.stop()));
  await seedPostgres(three.url, 0, CHANNELS, simHost);
  await seedPostgres(one.url, 0, CHANNELS, simHost);
  const entry = three.nodes[0];
  await waitFor(
    'node 1 places agents over three live nodes',
    async () => (await clusterView(entry)).placement?.length === 3,
  );

  const sims = startSims();
  started.push(() => sims.stop());
  const hostCa = helpers.sharedTestHostCa();
  await sims.call({ op: 'init', hostCaCertFile: hostCa.certFile, hostCaKeyFile: hostCa.keyFile, hubCa: tls.caCert });
  const rss0 = rssMiB(one.nodes[0].child.proc.pid);
  const entries = (nodes) => nodes.map((n) => ({ host: '127.0.0.1', port: n.hubAddress.port }));
  const conn3 = await sims.call({ op: 'connect', set: 'three', entries: entries(three.nodes), hosts });
  const conn1 = await sims.call({ op: 'connect', set: 'one', entries: entries(one.nodes), hosts });
  // Routing reads the presence table: wait until every channel's row is in it.
  let spread = [];
  await waitFor('presence rows of every channel', async () => {
    spread = (await clusterView(entry)).nodes ?? [];
    return spread.reduce((a, n) => a + n.agents, 0) === CHANNELS;
  });
  await new Promise((r) => setTimeout(r, 1000));
  const rssPerConnKiB = ((rssMiB(one.nodes[0].child.proc.pid) - rss0) * 1024) / CHANNELS;

  const setups = [
    { name: '3 nodes (request to node 1)', node: entry, pids: () => three.nodes.map((n) => n.child.proc.pid) },
    { name: '1 node, same count', node: one.nodes[0], pids: () => one.nodes.map((n) => n.child.proc.pid) },
  ];
  for (const s of setups) await fanOut(sims, s.node); // warm-up, not counted
  let simBusy = 0;
  // Idle cost of holding the channels: each node renews its one row every heartbeat (heartbeatMs 1000 here).
  const allAspire = () => [...three.nodes, ...one.nodes].map((n) => n.child.proc.pid);
  const idle0 = [cpuSeconds(allAspire()), postgresCpuSeconds(pgh)];
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const idle = [cpuSeconds(allAspire()) - idle0[0], postgresCpuSeconds(pgh) - idle0[1]];
  for (const s of setups) Object.assign(s, { totals: [], deliveries: [], cpu: [], pgCpu: [] });
  for (let r = 0; r < RUNS; r++) {
    for (const s of setups) {
      const c0 = [cpuSeconds(s.pids()), postgresCpuSeconds(pgh)];
      const f = await fanOut(sims, s.node);
      s.cpu.push(cpuSeconds(s.pids()) - c0[0]);
      s.pgCpu.push(postgresCpuSeconds(pgh) - c0[1]);
      s.totals.push(f.total);
      s.deliveries.push(...f.deliveries);
      simBusy = Math.max(simBusy, f.simLoad);
    }
  }

  console.log(
    `Polaris sync.bash 'true' to ${CHANNELS} simulated channels (mutual TLS, canned replies), ${RUNS} runs per setup, A B A B`,
  );
  console.log(machineLine());
  console.log(
    `  connect + TLS + init of all: 3 nodes ${ms(conn3.ms)} (${conn3.redirects} redirects followed, ${conn3.startOvers} start-overs after 3 in a row), 1 node ${ms(conn1.ms)}`,
  );
  console.log(`  spread over the three nodes (presence): ${spread.map((n) => `${n.nodeId} ${n.agents}`).join(', ')}`);
  console.log(`  one node's RSS per channel: ${rssPerConnKiB.toFixed(1)} KiB`);
  console.log(
    `  idle, ${2 * CHANNELS} channels on 4 nodes (heartbeat 1 s): aspire ${((idle[0] / IDLE_MS) * 1e5).toFixed(1)}% + postgres ${((idle[1] / IDLE_MS) * 1e5).toFixed(1)}% of a core`,
  );
  for (const s of setups) {
    s.p50 = quantile(s.totals, 0.5);
    console.log(
      `  ${s.name.padEnd(28)} complete answer p50 ${ms(s.p50)}  p99 ${ms(quantile(s.totals, 0.99))}  min ${ms(min(s.totals))}` +
        `   command reaches a host p50 ${ms(quantile(s.deliveries, 0.5))}  p99 ${ms(quantile(s.deliveries, 0.99))}` +
        `   CPU per fan-out ${(median(s.cpu) * 1000).toFixed(0)} + ${(median(s.pgCpu) * 1000).toFixed(0)} ms (aspire + postgres)`,
    );
  }
  const ratio = setups[0].p50 / setups[1].p50;
  console.log(`  three nodes vs one: ${ratio.toFixed(2)}x the time to the complete answer (p50)`);
  console.log(
    `  (p99 of ${RUNS} runs is close to their max; the per-host figures are over ${RUNS * CHANNELS} commands)`,
  );
  console.log(
    simBusy > 0.9
      ? `  NOTE: the simulated channels' process was busy or waiting for a core ${(simBusy * 100).toFixed(0)}% of a fan-out: it (or the machine), not the servers, may have set the pace`
      : `  the simulated channels' process was busy or waiting for a core at most ${(simBusy * 100).toFixed(0)}% of a fan-out: the servers set the pace`,
  );
  benchResult({
    metric: `Polaris fan-out to ${CHANNELS} channels over 3 nodes, p50`,
    figure: setups[0].p50,
    unit: 'ms',
    baseline: setups[1].p50,
    ratio,
    command: 'node bench/scale-fanout.mjs',
  });
} finally {
  for (const stop of started.reverse()) await stop().catch((e) => console.error(`stop: ${e.message}`));
  tls.cleanup();
  // The host CA the helpers made for this process's servers (startAspire): its temp dir too.
  rmSync(dirname(helpers.sharedTestHostCa().certFile), { recursive: true, force: true });
  cleanup();
}
