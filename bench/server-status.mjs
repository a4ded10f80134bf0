#!/usr/bin/env node
// Benchmark (not a test): POST /agent/status on the real aspire server (built bundle, child
// process, SQLite in a temp dir) beside a bare fastify server that parses the same JSON body and
// answers the same number of bytes, both measured in the same run, interleaved (bare, aspire,
// bare, aspire, ...). The load comes from bench/status-load.mjs in its own process (one per
// round), so neither server shares an event loop with the client; a round whose generator used
// most of a core is flagged, because then it, not the server, set the pace. Beside the rate, each
// server's own CPU time per push (/proc), which the machine's other load moves much less.
//
// Per size (known hosts, seeded straight into the database; every host pushes in turn):
//   steady   pushes with nothing new (what a fleet sends every step)
//   writes   (first size only) every push carries a new event: a write transaction each
//
//   npx node bench/server-status.mjs [--seconds 5] [--rounds 3] [--connections 32] [--hosts 1000,10000]
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { benchResult, median } from './bench-result.mjs';
import { setup } from './basic-helpers.mjs';
import { sampleProc } from './boot-meter.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    hosts: { type: 'string', default: '1000,10000' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const connections = Number(values.connections);
const sizes = values.hosts.split(',').map(Number);
if (!(seconds > 0) || !(rounds >= 1) || !(connections >= 1) || sizes.some((n) => !(n >= 1))) {
  console.error('usage: server-status.mjs [--seconds S] [--rounds R] [--connections C] [--hosts N1,N2]');
  process.exit(2);
}
const here = import.meta.dirname;
const command = `npx node bench/server-status.mjs --seconds ${seconds} --rounds ${rounds} --hosts ${values.hosts}`;
/** A generator above this share of a core is taken to be the bottleneck of its round. */
const GENERATOR_BOUND = 0.9;

const { helpers, cleanup } = await setup();
const work = mkdtempSync(join(tmpdir(), 'aspire-bench-status-'));
const dataDir = join(work, 'data');
mkdirSync(dataDir);
const sha = (s) => createHash('sha256').update(s).digest('hex');

/** Add hosts [from, to) straight into the server's SQLite file (server stopped). */
function seed(from, to) {
  const db = new DatabaseSync(join(dataDir, 'aspire.db'));
  const now = Date.now();
  const ins = db.prepare(
    `INSERT INTO hosts(agentsn, hostname, ipaddr, status, step, os, arch, curvers, credential_hash, last_seen, gmt_create, gmt_modify)
     VALUES (?, ?, '127.0.0.1', 'online', 60, 'Linux 6.1.0', 'x86_64', 'bootagent-1.0.0-x86_64', ?, ?, ?, ?)`,
  );
  db.exec('BEGIN');
  for (let i = from; i < to; i++)
    ins.run(`bench-${i}`, `bench-host-${i}.example`, sha(`bench-credential-${i}`), now, now, now);
  db.exec('COMMIT');
  db.close();
}

/** CPU seconds a process has used so far (/proc; 10 ms ticks). */
const cpuOf = (pid) => (sampleProc(pid)?.cpuTicks ?? Number.NaN) / 100;

/**
 * One generator process against url; resolves with its JSON line, plus `cpuPerPush`: the
 * server's (pid) CPU time per answered push in microseconds, which CPU contention from other
 * work on the machine moves much less than the rate.
 */
async function generate(url, hosts, opts = {}, pid = undefined) {
  const c0 = pid === undefined ? 0 : cpuOf(pid);
  const r = await generateOnce(url, hosts, opts);
  return pid === undefined ? r : { ...r, cpuPerPush: ((cpuOf(pid) - c0) / r.n) * 1e6 };
}

function generateOnce(url, hosts, { once = false, events = false, offset = 0, secs = seconds } = {}) {
  const args = [join(here, 'status-load.mjs'), '--url', url, '--hosts', String(hosts), '--agents', String(hosts)];
  args.push('--seconds', String(secs), '--connections', String(connections), '--offset', String(offset));
  if (once) args.push('--once');
  if (events) args.push('--events');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`status-load.mjs exited ${code}`));
      const r = JSON.parse(out.trim().split('\n').pop());
      if (r.errors > 0) return reject(new Error(`${r.errors} non-200 answers, first: ${r.firstError}`));
      resolve(r);
    });
  });
}

/** A bare fastify server: parses the JSON body and answers `reply` (the aspire answer's bytes). */
async function bareFastify(reply) {
  const require = createRequire(new URL('../packages/server/package.json', import.meta.url));
  const script = join(work, 'bare.cjs');
  writeFileSync(
    script,
    `const reply = ${JSON.stringify(reply)};
     const app = require(${JSON.stringify(require.resolve('fastify'))})({ bodyLimit: 1048576 });
     app.post('/agent/status', async (req, res) => { res.header('content-type', 'application/json; charset=utf-8'); return reply; });
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
  const stop = () =>
    new Promise((r) => {
      child.once('exit', r);
      child.kill('SIGTERM');
    });
  return { url, stop, pid: child.pid };
}

/** The answer aspire gives a steady push of host 0 (what the bare server sends back). */
async function aspireReply(url) {
  const res = await fetch(`${url}/agent/status`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-aspire-credential': 'bench-credential-0' },
    body: JSON.stringify({
      hostname: 'bench-host-0.example',
      agentsn: 'bench-0',
      version: 'bootagent-1.0.0-x86_64',
      uptime: 1,
      timestamp: Math.floor(Date.now() / 1000),
      step: 60,
      agents: [],
      jobs: [],
      events: [],
      os: 'Linux 6.1.0',
      arch: 'x86_64',
    }),
  });
  if (res.status !== 200) throw new Error(`aspire answered ${res.status}: ${await res.text()}`);
  return res.text();
}

const config = {
  logLevel: 'warn',
  offlineSweepSec: 30,
  dashboardIntervalSec: 30,
  rateLimit: { statusPerSec: 1e7, statusBurst: 1e7 },
};
const fmtRate = (x) => x.toFixed(0).padStart(7);
const flag = (r) => (r.cpu > GENERATOR_BOUND ? ` GENERATOR-BOUND (${(r.cpu * 100).toFixed(0)}% of a core)` : '');
const results = [];
let srv;
let bare;
try {
  // First start creates and migrates the database; hosts are seeded with the server stopped.
  srv = await helpers.startAspire({ dataDir, config });
  await srv.stop();
  srv = undefined;
  let seeded = 0;
  for (const [si, size] of sizes.entries()) {
    seed(seeded, size);
    seeded = size;
    srv = await helpers.startAspire({ dataDir, config });
    bare = await bareFastify(await aspireReply(srv.url));
    // Warm-up: each host's first push after a start is a full write; JIT warm for both.
    await generate(srv.url, size, { once: true });
    await generate(bare.url, size, { secs: 1 });
    const phases = [{ name: 'steady', events: false }];
    if (si === 0) phases.push({ name: 'writes', events: true });
    for (const phase of phases) {
      const runs = { bare: [], aspire: [] };
      for (let r = 0; r < rounds; r++) {
        const opts = { events: phase.events, offset: (r + 1) * 1_000_000 };
        runs.bare.push(await generate(bare.url, size, opts, bare.pid));
        runs.aspire.push(await generate(srv.url, size, opts, srv.child.pid));
      }
      const label = `${size.toLocaleString('en')} hosts, ${phase.name === 'steady' ? 'steady pushes' : 'a new event in every push'}`;
      console.log(`${label}, ${connections} connections, ${rounds} x ${seconds} s interleaved`);
      for (const [who, rs] of Object.entries(runs)) {
        for (const r of rs)
          console.log(
            `  ${who.padEnd(7)} ${fmtRate(r.rate)} /s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  server ${r.cpuPerPush.toFixed(0)} us CPU/push  generator ${(r.cpu * 100).toFixed(0)}% cpu${flag(r)}`,
          );
      }
      const b = runs.bare.map((r) => r.rate);
      const a = runs.aspire.map((r) => r.rate);
      const ratio = median(a) / median(b);
      const cpuB = median(runs.bare.map((r) => r.cpuPerPush));
      const cpuA = median(runs.aspire.map((r) => r.cpuPerPush));
      console.log(
        `  bare   min ${fmtRate(Math.min(...b))} median ${fmtRate(median(b))}  CPU/push median ${cpuB.toFixed(0)} us\n  aspire min ${fmtRate(Math.min(...a))} median ${fmtRate(median(a))}  CPU/push median ${cpuA.toFixed(0)} us  ratio ${ratio.toFixed(2)} (by CPU per push ${(cpuB / cpuA).toFixed(2)})`,
      );
      if (runs.bare.some((r) => r.cpu > GENERATOR_BOUND))
        console.log('  note: the generator saturated in a bare round: the baseline (and the ratio) is a lower bound');
      results.push({
        metric: `status ingestion, ${size >= 1000 ? `${size / 1000}k` : size} hosts${phase.events ? ', a new event per push' : ''}`,
        figure: median(a),
        unit: 'pushes/s',
        baseline: median(b),
        ratio,
        target: '>= 0.5',
        command,
      });
      // The same comparison by the servers' own CPU time per push: what the machine's other load moves least.
      results.push({
        metric: `status ingestion CPU per push, ${size >= 1000 ? `${size / 1000}k` : size} hosts${phase.events ? ', a new event per push' : ''}`,
        figure: cpuA,
        unit: 'us',
        baseline: cpuB,
        ratio: cpuA / cpuB,
        target: '<= 2x (= rate >= 0.5x)',
        command,
      });
    }
    await bare.stop();
    bare = undefined;
    await srv.stop();
    srv = undefined;
  }
} finally {
  await bare?.stop();
  await srv?.stop();
  cleanup();
  rmSync(work, { recursive: true, force: true });
}
for (const r of results) benchResult(r);
