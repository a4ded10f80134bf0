#!/usr/bin/env node
// Benchmark (not a test): what the desired-state policy hash in every status reply costs
// (docs/lifecycle.md "Desired state"). Three servers measured in the same run, interleaved
// (bare, none, policy, bare, none, policy, ...), each fed by bench/status-load.mjs in its own
// process with steady pushes of N hosts (nothing new, as a fleet pushes every step):
//   bare    a fastify server that parses the body and answers the same bytes (the baseline)
//   none    aspire with no policy anywhere (every reply carries the empty policy's hash)
//   policy  aspire with a root policy, a product > service > component tree whose component
//           takes every host by tag (the pushes report cmpt=DB), half the hosts attached
//           explicitly to another component, a policy at each level and on 100 hosts: every
//           host's hash is computed from the database once (the warm-up), then cached until
//           the policy generation moves
//
//   npx node bench/policy-status.mjs [--seconds 4] [--rounds 3] [--connections 32] [--hosts 10000]
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { setup } from './basic-helpers.mjs';
import { benchResult, median } from './bench-result.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    hosts: { type: 'string', default: '10000' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const connections = Number(values.connections);
const hosts = Number(values.hosts);
if (!(seconds > 0) || !(rounds >= 1) || !(connections >= 1) || !(hosts >= 2)) {
  console.error('usage: policy-status.mjs [--seconds S] [--rounds R] [--connections C] [--hosts N]');
  process.exit(2);
}
const here = import.meta.dirname;
const command = `npx node bench/policy-status.mjs --seconds ${seconds} --rounds ${rounds} --hosts ${hosts}`;
const sha = (s) => createHash('sha256').update(s).digest('hex');

const { helpers, cleanup } = await setup();
const work = mkdtempSync(join(tmpdir(), 'aspire-bench-policy-'));
const config = {
  logLevel: 'warn',
  offlineSweepSec: 30,
  dashboardIntervalSec: 30,
  rateLimit: { statusPerSec: 1e7, statusBurst: 1e7 },
};

/** Hosts straight into a stopped server's SQLite file, with the credentials status-load.mjs sends. */
function seed(dataDir) {
  const db = new DatabaseSync(join(dataDir, 'aspire.db'));
  const now = Date.now();
  const ins = db.prepare(
    `INSERT INTO hosts(agentsn, hostname, ipaddr, status, step, os, arch, curvers, credential_hash, last_seen, gmt_create, gmt_modify)
     VALUES (?, ?, '127.0.0.1', 'online', 60, 'Linux 6.1.0', 'x86_64', 'bootagent-1.0.0-x86_64', ?, ?, ?, ?)`,
  );
  db.exec('BEGIN');
  for (let i = 0; i < hosts; i++)
    ins.run(`bench-${i}`, `bench-host-${i}.example`, sha(`bench-credential-${i}`), now, now, now);
  db.exec('COMMIT');
  db.close();
}

async function aspire(name) {
  const dataDir = join(work, name);
  mkdirSync(dataDir);
  let srv = await helpers.startAspire({ dataDir, config });
  await srv.stop();
  seed(dataDir);
  srv = await helpers.startAspire({ dataDir, config });
  return srv;
}

/** The tree and policies of the `policy` server, through its REST API. */
async function withPolicies(srv) {
  const api = async (method, path, body) => {
    const r = await srv.api(method, `/api/v1/server${path}`, body);
    if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const task = (name, command) => ({ name, user: 'root', schedule: '0 */5 * * * *', command });
  await api('PUT', '/policy/root', { periodic: [task('inventory', '/usr/bin/true')] });
  const product = (await api('POST', '/tree/node', { kind: 'product', name: 'shop' })).node.id;
  const service = (await api('POST', '/tree/node', { kind: 'service', name: 'db', parent: product })).node.id;
  const byTag = (
    await api('POST', '/tree/node', { kind: 'component', name: 'tagged', parent: service, tags: 'cmpt=DB' })
  ).node.id;
  const attached = (await api('POST', '/tree/node', { kind: 'component', name: 'attached', parent: service })).node.id;
  await api('PUT', `/policy/node/${service}`, {
    periodic: [task('rotate', '/usr/sbin/logrotate /etc/logrotate.conf')],
  });
  await api('PUT', `/policy/node/${byTag}`, { periodic: [task('report', '/usr/local/bin/report')] });
  await api('PUT', `/policy/node/${attached}`, { periodic: [{ name: 'inventory', remove: true }] });
  const half = Array.from({ length: Math.floor(hosts / 2) }, (_, i) => `bench-${i * 2}`);
  await api('POST', `/tree/node/${attached}/hosts`, { agents: half });
  for (let i = 1; i < Math.min(hosts, 200); i += 2)
    await api('PUT', `/policy/host/bench-${i}`, { periodic: [task('own', `/bin/echo ${i}`)] });
}

function generate(url, opts = {}) {
  const args = [join(here, 'status-load.mjs'), '--url', url, '--hosts', String(hosts), '--agents', String(hosts)];
  args.push('--seconds', String(opts.secs ?? seconds), '--connections', String(connections));
  args.push('--offset', String(opts.offset ?? 0));
  if (opts.once) args.push('--once');
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
    child.stdout.setEncoding('utf8').on('data', (d) => {
      const m = /bare: listening on (\S+)/.exec(d);
      if (m) resolve(m[1]);
    });
    child.once('exit', (c) => reject(new Error(`bare fastify exited ${c}`)));
  });
  return { url, stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))) };
}

/** The answer the policy server gives a steady push of host 0: the bytes the bare server sends. */
async function replyOf(url) {
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
      tags: 'svc=ecs,cmpt=DB',
    }),
  });
  if (res.status !== 200) throw new Error(`aspire answered ${res.status}`);
  return res.text();
}

const servers = {};
try {
  servers.none = await aspire('none');
  servers.policy = await aspire('policy');
  await withPolicies(servers.policy);
  servers.bare = await bareFastify(await replyOf(servers.policy.url));
  // Warm-up: each host's first push after a start is a full write (and, with policies, its first hash).
  for (const s of [servers.none, servers.policy]) await generate(s.url, { once: true });
  await generate(servers.bare.url, { secs: 1 });
  const runs = { bare: [], none: [], policy: [] };
  for (let r = 0; r < rounds; r++)
    for (const who of Object.keys(runs))
      runs[who].push(await generate(servers[who].url, { offset: (r + 1) * 1_000_000 }));
  console.log(
    `${hosts.toLocaleString('en')} hosts, steady pushes, ${connections} connections, ${rounds} x ${seconds} s interleaved`,
  );
  for (const [who, rs] of Object.entries(runs))
    for (const x of rs)
      console.log(
        `  ${who.padEnd(7)} ${x.rate.toFixed(0).padStart(7)} /s  p50 ${x.p50.toFixed(2)} ms  p99 ${x.p99.toFixed(2)} ms  generator ${(x.cpu * 100).toFixed(0)}% cpu`,
      );
  const med = Object.fromEntries(Object.entries(runs).map(([k, rs]) => [k, median(rs.map((x) => x.rate))]));
  for (const [who, rs] of Object.entries(runs))
    console.log(
      `  ${who.padEnd(7)} min ${Math.min(...rs.map((x) => x.rate)).toFixed(0)} median ${med[who].toFixed(0)}`,
    );
  console.log(
    `  ratio none/bare ${(med.none / med.bare).toFixed(2)}  policy/bare ${(med.policy / med.bare).toFixed(2)}  policy/none ${(med.policy / med.none).toFixed(2)}`,
  );
  benchResult({
    metric: `status ingestion with desired-state policies, ${hosts / 1000}k hosts`,
    figure: med.policy,
    unit: 'pushes/s',
    baseline: med.none,
    ratio: med.policy / med.none,
    target: '>= 0.9 of no policy',
    command,
  });
} finally {
  await servers.bare?.stop();
  await servers.none?.stop();
  await servers.policy?.stop();
  cleanup();
  rmSync(work, { recursive: true, force: true });
}
