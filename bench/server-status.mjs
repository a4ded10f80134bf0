#!/usr/bin/env node
// Benchmark (not a test): POST /agent/status on the real aspire server (built bundle, child
// process, SQLite in a temp dir) from simulated agents, each with its own AgentSN, credential
// and a realistic seed 002 body, at 10,000 and 100,000 known hosts (seeded directly into the
// database), beside a bare fastify route answering {} to the same requests in the same run.
//
// Per size: the first push of each of --agents simulated agents (each a full write), then
// steady pushes for --seconds (nothing new: what a fleet sends every step).
//
//   npx node bench/server-status.mjs [--seconds 5] [--connections 32] [--hosts 10000,100000] [--agents 5000]
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { fmt, setup, stats } from './basic-helpers.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    hosts: { type: 'string', default: '10000,100000' },
    agents: { type: 'string', default: '5000' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const sizes = values.hosts.split(',').map(Number);
const AGENTS = Number(values.agents);
if (!(seconds > 0) || !(connections >= 1) || sizes.some((n) => !(n >= 1)) || !(AGENTS >= 1)) {
  console.error('usage: server-status.mjs [--seconds S] [--connections C] [--hosts N1,N2] [--agents A]');
  process.exit(2);
}

const { helpers, cleanup } = await setup();
const work = mkdtempSync(join(tmpdir(), 'aspire-bench-status-'));
const dataDir = join(work, 'data');
mkdirSync(dataDir);
const sha = (s) => createHash('sha256').update(s).digest('hex');
const credential = (i) => `bench-credential-${i}`;

function body(i) {
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
    events: [],
    os: 'Linux 6.1.0',
    arch: 'x86_64',
    tags: 'svc=ecs,cmpt=DB',
  });
}

/** Add hosts [from, to) straight into the server's SQLite file (server stopped). */
function seed(from, to) {
  const db = new DatabaseSync(join(dataDir, 'aspire.db'));
  const now = Date.now();
  const ins = db.prepare(
    `INSERT INTO hosts(agentsn, hostname, ipaddr, status, step, os, arch, curvers, credential_hash, last_seen, gmt_create, gmt_modify)
     VALUES (?, ?, '127.0.0.1', 'online', 60, 'Linux 6.1.0', 'x86_64', 'bootagent-1.0.0-x86_64', ?, ?, ?, ?)`,
  );
  db.exec('BEGIN');
  for (let i = from; i < to; i++) ins.run(`bench-${i}`, `bench-host-${i}.example`, sha(credential(i)), now, now, now);
  db.exec('COMMIT');
  db.close();
}

/** Bodies of `agents` simulated agents spread over the `hosts` known hosts. */
function agentsOver(hosts, agents) {
  const n = Math.min(hosts, agents);
  const stride = Math.max(1, Math.floor(hosts / n));
  return Array.from({ length: n }, (_, k) => ({ i: k * stride, text: body(k * stride) }));
}

/** Send bodies with `connections` in flight: each once (`once`), or round-robin for `seconds`. */
async function load(url, bodies, once = false) {
  const pool = new Pool(url, { connections, pipelining: 1 });
  const t0all = performance.now();
  const end = t0all + seconds * 1000;
  const lat = [];
  let errors = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (once ? next < bodies.length : performance.now() < end) {
        const b = bodies[next++ % bodies.length];
        const t0 = performance.now();
        const res = await pool.request({
          path: '/agent/status',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-aspire-credential': credential(b.i) },
          body: b.text,
        });
        await res.body.text();
        lat.push(performance.now() - t0);
        if (res.statusCode !== 200) errors++;
      }
    }),
  );
  await pool.close();
  const elapsed = (performance.now() - t0all) / 1000;
  const s = stats(lat);
  return {
    rate: lat.length / elapsed,
    p50: s.median,
    p99: [...lat].sort((a, b) => a - b)[Math.floor(lat.length * 0.99)] ?? 0,
    errors,
    n: lat.length,
  };
}

async function bareFastify() {
  const require = createRequire(new URL('../packages/server/package.json', import.meta.url));
  const script = join(work, 'bare.cjs');
  writeFileSync(
    script,
    `const app = require(${JSON.stringify(require.resolve('fastify'))})({ bodyLimit: 1048576 });
     app.post('/agent/status', async () => ({}));
     app.listen({ host: '127.0.0.1', port: 0 }).then((a) => console.log('bare: listening on ' + a));`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      const m = /bare: listening on (\S+)/.exec(d);
      if (m) resolve(m[1]);
    });
    child.once('exit', (c) => reject(new Error(`bare fastify exited ${c}`)));
  });
  return { url, stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))) };
}

const rows = [];
try {
  const bare = await bareFastify();
  const bareBodies = agentsOver(sizes[0], AGENTS);
  await load(bare.url, bareBodies, true); // warm-up
  rows.push({ what: 'bare fastify POST -> {}', ...(await load(bare.url, bareBodies)) });
  await bare.stop();

  const config = {
    logLevel: 'warn',
    offlineSweepSec: 30,
    dashboardIntervalSec: 30,
    rateLimit: { statusPerSec: 1e7, statusBurst: 1e7 },
  };
  // First start creates and migrates the database; then hosts are seeded with the server stopped.
  let srv = await helpers.startAspire({ dataDir, config });
  await srv.stop();
  let seeded = 0;
  for (const size of sizes) {
    const t0 = performance.now();
    seed(seeded, size);
    const seedMs = performance.now() - t0;
    seeded = size;
    srv = await helpers.startAspire({ dataDir, config });
    const bodies = agentsOver(size, AGENTS);
    // First push of each agent after a (re)start: every one is a full write transaction.
    rows.push({
      what: `aspire, ${size.toLocaleString('en')} hosts, first push each (seeded in ${(seedMs / 1000).toFixed(1)} s)`,
      ...(await load(srv.url, bodies, true)),
    });
    // Steady state: the same agents again with nothing new, as a fleet pushes every step.
    rows.push({ what: `aspire, ${size.toLocaleString('en')} hosts, steady pushes`, ...(await load(srv.url, bodies)) });
    await srv.stop();
  }
} finally {
  cleanup();
  rmSync(work, { recursive: true, force: true });
}

console.log(
  `POST /agent/status, ${connections} connections, ${AGENTS} simulated agents (own AgentSN each), realistic seed 002 bodies, ${seconds} s steady phases`,
);
const base = rows[0];
for (const r of rows) {
  const ratio =
    r === base ? '' : `  (${((r.rate / base.rate) * 100).toFixed(0)}% of bare, p99 x${(r.p99 / base.p99).toFixed(1)})`;
  console.log(
    `  ${r.what.padEnd(62)} ${r.rate.toFixed(0).padStart(7)} req/s  p50 ${fmt(r.p50)}  p99 ${fmt(r.p99)}  non-200 ${r.errors}${ratio}`,
  );
}
