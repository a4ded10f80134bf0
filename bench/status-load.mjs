#!/usr/bin/env node
// Load generator of bench/server-status.mjs and bench/server-soak.mjs, run as its own process so
// the server (or the bare baseline) and the client never share an event loop. A small undici
// client: POST /agent/status bodies of simulated agents, `--connections` in flight, for
// `--seconds` (or each agent once with --once), optionally held to `--rate` pushes per second.
// Prints one JSON line on stdout: rate, latency quantiles, non-200 count and this process's own
// CPU use, so the caller can say when the generator, not the server, was the bottleneck.
//
//   node bench/status-load.mjs --url http://127.0.0.1:PORT --hosts 10000 --agents 1000
//        [--seconds 5] [--connections 32] [--events] [--rate 1500] [--once] [--offset 0]
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    hosts: { type: 'string', default: '1000' },
    agents: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    rate: { type: 'string', default: '0' },
    offset: { type: 'string', default: '0' },
    events: { type: 'boolean', default: false },
    once: { type: 'boolean', default: false },
  },
});
const hosts = Number(values.hosts);
const agents = Math.min(hosts, Number(values.agents));
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const rate = Number(values.rate);
const offset = Number(values.offset);
if (!values.url || !(hosts >= 1) || !(agents >= 1) || !(seconds > 0) || !(connections >= 1) || !(rate >= 0)) {
  console.error('usage: status-load.mjs --url URL --hosts N --agents A [--seconds S] [--connections C] [--rate R]');
  process.exit(2);
}

/** The credential server-status.mjs seeds (as its SHA-256) for host i. */
const credential = (i) => `bench-credential-${i}`;
// Agents spread over the known hosts: every stride-th host pushes.
const stride = Math.max(1, Math.floor(hosts / agents));
const hostOf = (k) => k * stride;

/** A realistic docs/design.md §3 status body; with `events`, one new event per push (a write each time). */
function body(i, seq) {
  return JSON.stringify({
    hostname: `bench-host-${i}.example`,
    agentsn: `bench-${i}`,
    version: 'bootagent-1.0.0-x86_64',
    uptime: 86_400 + i,
    timestamp: Math.floor(Date.now() / 1000),
    step: 60,
    agents: [
      { name: 'BasicAgent', version: '1.2.3', status: 'running', uptime: 3600, pid: 1000 + (i % 30000) },
      { name: 'MonitorAgent', version: '0.1.2', status: 'running', uptime: 3600, pid: 2000 + (i % 30000) },
    ],
    jobs: [],
    events: values.events
      ? [
          {
            localid: offset + seq,
            occurred: Math.floor(Date.now() / 1000),
            kind: 'started',
            agent: 'BasicAgent',
            message: 'BasicAgent started',
          },
        ]
      : [],
    os: 'Linux 6.1.0',
    arch: 'x86_64',
    tags: 'svc=ecs,cmpt=DB',
  });
}

const pool = new Pool(values.url, { connections, pipelining: 1 });
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const end = t0 + seconds * 1000;
const lat = [];
let errors = 0;
let next = 0;
let firstError;
// Paced mode: push k is due at t0 + k / rate (open loop, so a slow server shows as latency).
const due = (k) => t0 + (k * 1000) / rate;

async function worker() {
  for (;;) {
    const k = next++;
    if (values.once ? k >= agents : performance.now() >= end) return;
    if (rate > 0) {
      const wait = due(k) - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (performance.now() >= end) return;
    }
    const i = hostOf(k % agents);
    const t = performance.now();
    const res = await pool.request({
      path: '/agent/status',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-aspire-credential': credential(i) },
      body: body(i, Math.floor(k / agents) + 1),
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
await pool.close();
const used = process.cpuUsage(cpu0);
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
console.log(
  JSON.stringify({
    n: lat.length,
    rate: lat.length / (elapsedMs / 1000),
    p50: q(0.5),
    p99: q(0.99),
    errors,
    firstError,
    // Share of one core this generator used: near 1 means it, not the server, set the pace.
    cpu: (used.user + used.system) / 1000 / elapsedMs,
  }),
);
