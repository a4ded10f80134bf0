#!/usr/bin/env node
// Load generator of bench/scale-ingestion.mjs, run as its own process so neither the servers nor
// the benchmark share its event loop: a small undici client that POSTs BootAgent-format status
// pushes (docs/design.md §3 fields plus os, kernel, tags and the self-report, as loop/status-body.ts builds
// them) over HTTPS, `--connections` in flight, for `--seconds` (or each agent once with --once).
// Agent k always pushes to URL k mod n, as a BootAgent stays on the first server of its list
// that answers: several URLs spread the agents over the nodes.
// Prints one JSON line: rate, latency quantiles, non-200 count and its own CPU use (a share of
// one core), so the caller can say when the generator, not the server, set the pace.
//
//   node bench/lib/scale-load.mjs --urls https://127.0.0.1:P1,https://127.0.0.1:P2 --ca ca.crt
//        --hosts 10000 --agents 2000 [--seconds 5] [--connections 32] [--once]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { ingestHost as hostRow } from './scale-setup.mjs';

const { values } = parseArgs({
  options: {
    urls: { type: 'string' },
    ca: { type: 'string' },
    hosts: { type: 'string', default: '10000' },
    agents: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    once: { type: 'boolean', default: false },
  },
});
const urls = (values.urls ?? '').split(',').filter(Boolean);
const hosts = Number(values.hosts);
const agents = Math.min(hosts, Number(values.agents));
const seconds = Number(values.seconds);
const connections = Number(values.connections);
if (urls.length === 0 || !values.ca || !(agents >= 1) || !(seconds > 0) || !(connections >= urls.length)) {
  console.error(
    'usage: scale-load.mjs --urls URL[,URL...] --ca FILE --hosts N --agents A [--seconds S] [--connections C]',
  );
  process.exit(2);
}

// Agents spread over the known hosts: every stride-th host pushes.
const stride = Math.max(1, Math.floor(hosts / agents));

function body(i) {
  const h = hostRow(i);
  return JSON.stringify({
    hostname: h.hostname,
    agentsn: h.agentsn,
    version: 'bootagent-1.0.0-x86_64',
    uptime: 86_400 + i,
    timestamp: Math.floor(Date.now() / 1000),
    step: 600,
    agents: [
      { name: 'BasicAgent', version: '1.2.3', status: 'running', uptime: 3600, pid: 1000 + (i % 30000) },
      { name: 'MonitorAgent', version: '0.1.2', status: 'running', uptime: 3600, pid: 2000 + (i % 30000) },
    ],
    jobs: [],
    events: [],
    eventsDropped: 0,
    os: 'linux',
    kernel: '6.1.0-28-amd64',
    arch: 'x86_64',
    tags: 'svc=ecs,cmpt=DB',
    self: { rssBytes: 24_000_000, cpuSeconds: 12.5, jobQueue: 0, resultQueue: 0, eventQueue: 0 },
  });
}
const bodies = Array.from({ length: agents }, (_, k) => ({
  text: body(k * stride),
  credential: hostRow(k * stride).credential,
}));

const ca = readFileSync(values.ca, 'utf8');
// Each node gets its share of the connections (at least one).
const pools = urls.map(
  (u) => new Pool(u, { connections: Math.ceil(connections / urls.length), pipelining: 1, connect: { ca } }),
);
/** Nanoseconds this (main, JavaScript) thread has waited on a run queue for a core so far. */
const runQueueNs = () => {
  try {
    return Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]);
  } catch {
    return Number.NaN;
  }
};
const wait0 = runQueueNs();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const end = t0 + seconds * 1000;
const lat = [];
let errors = 0;
let firstError;
let next = 0;

async function worker() {
  for (;;) {
    const k = next++;
    if (values.once ? k >= agents : performance.now() >= end) return;
    const a = k % agents;
    const b = bodies[a];
    const t = performance.now();
    const res = await pools[a % pools.length].request({
      path: '/agent/status',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-aspire-credential': b.credential },
      body: b.text,
    });
    const text = await res.body.text();
    lat.push(performance.now() - t);
    if (res.statusCode !== 200) {
      errors++;
      firstError ??= `${res.statusCode} ${text.slice(0, 200)}`;
    }
  }
}

await Promise.all(Array.from({ length: connections }, worker));
const elapsedMs = performance.now() - t0;
await Promise.all(pools.map((p) => p.close()));
const used = process.cpuUsage(cpu0);
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
console.log(
  JSON.stringify({
    n: lat.length,
    seconds: elapsedMs / 1000,
    rate: lat.length / (elapsedMs / 1000),
    p50: q(0.5),
    p99: q(0.99),
    errors,
    firstError,
    // Share of one core this generator used: near 1 means it, not the server, set the pace.
    cpu: (used.user + used.system) / 1000 / elapsedMs,
    // Share of the time it was ready to run but waited for a core (a busy machine): with cpu near 1
    // together, the generator could not have gone faster.
    wait: (runQueueNs() - wait0) / 1e6 / elapsedMs,
  }),
);
