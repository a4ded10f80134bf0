// Shared set-up of the scale-out benchmarks (bench/scale-ingestion.mjs, bench/scale-fanout.mjs):
// real `aspire` nodes on one real PostgreSQL (packages/testing/src/postgres.ts) or on SQLite, hosts
// seeded straight into their database, CPU time of the server processes read from /proc, and the
// summary lines (min, median, ratio) every scale benchmark prints.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';

export const sha256Hex = (s) => createHash('sha256').update(s).digest('hex');

/** Host i of the ingestion benchmark: seeded with the credential's SHA-256, pushed by bench/lib/scale-load.mjs. */
export const ingestHost = (i) => ({
  agentsn: `bench-${i}`,
  hostname: `bench-host-${i}.example`,
  credential: `bench-credential-${i}`,
  credentialHash: sha256Hex(`bench-credential-${i}`),
});

/** Server config of a benchmark node: the product's periods (not the tests' quick ones), no rate limit in the way. */
export const BENCH_SERVER_CONFIG = {
  logLevel: 'warn',
  offlineSweepSec: 10,
  schedulerIntervalMs: 1000,
  dashboardIntervalSec: 30,
  rateLimit: { statusPerSec: 1e7, statusBurst: 1e7 },
};

/** A positive integer from a flag, else the environment, else the default. */
export function sizeOf(flag, envName, dflt) {
  const raw = flag ?? process.env[envName] ?? String(dflt);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`${envName}: ${raw} is not a positive integer`);
    process.exit(2);
  }
  return n;
}

/**
 * Start `count` aspire nodes on the PostgreSQL database `database` of `pgh` (created here), as
 * one cluster: the store and the cluster layer share that database, as in docs/scale.md.
 */
export async function startPgNodes(helpers, pgh, database, count, opts = {}) {
  await pgh.createDatabase(database);
  const url = pgh.urlWithPassword.replace(/\/[^/]+$/, `/${database}`);
  const nodes = [];
  for (let i = 1; i <= count; i++) {
    nodes.push(
      await helpers.startAspire({
        ...opts,
        env: { ...process.env, ASPIRE_DATABASE_URL: url },
        config: { ...BENCH_SERVER_CONFIG, ...opts.config, cluster: { nodeId: `${database}-${i}`, heartbeatMs: 1000 } },
      }),
    );
  }
  return { nodes, url };
}

const now = () => Date.now();

/** Host rows [from, to) into a PostgreSQL store (migrated by a node's start). */
export async function seedPostgres(url, from, to, row) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const t = now();
    for (let i = from; i < to; i += 1000) {
      const ids = Array.from({ length: Math.min(1000, to - i) }, (_, k) => row(i + k));
      await client.query(
        `INSERT INTO hosts (agentsn, hostname, ipaddr, status, step, os, arch, curvers, credential_hash, last_seen, gmt_create, gmt_modify)
         SELECT a, h, '127.0.0.1', 'online', 60, 'linux', 'x86_64', 'bootagent-1.0.0-x86_64', c, $4, $4, $4
         FROM unnest($1::text[], $2::text[], $3::text[]) AS u(a, h, c)`,
        [ids.map((r) => r.agentsn), ids.map((r) => r.hostname), ids.map((r) => r.credentialHash), t],
      );
    }
  } finally {
    await client.end();
  }
}

/** Host rows [from, to) into a SQLite store file (server stopped). */
export function seedSqlite(dbFile, from, to, row) {
  const db = new DatabaseSync(dbFile);
  const t = now();
  const ins = db.prepare(
    `INSERT INTO hosts(agentsn, hostname, ipaddr, status, step, os, arch, curvers, credential_hash, last_seen, gmt_create, gmt_modify)
     VALUES (?, ?, '127.0.0.1', 'online', 60, 'linux', 'x86_64', 'bootagent-1.0.0-x86_64', ?, ?, ?, ?)`,
  );
  db.exec('BEGIN');
  for (let i = from; i < to; i++) {
    const r = row(i);
    ins.run(r.agentsn, r.hostname, r.credentialHash, t, t, t);
  }
  db.exec('COMMIT');
  db.close();
}

/** The PostgreSQL server's processes: the postmaster (first line of postmaster.pid) and its children. */
export function postgresPids(pgh) {
  const master = Number(readFileSync(join(pgh.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const pids = [master];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === master) pids.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/**
 * CPU seconds of the whole PostgreSQL server so far: the postmaster's own and its reaped
 * children's (cutime, cstime: backends that ended) plus its live children's.
 */
export function postgresCpuSeconds(pgh) {
  const [master, ...children] = postgresPids(pgh);
  const f = readFileSync(`/proc/${master}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (
    (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100 + cpuSeconds(children)
  );
}

/** User + system CPU seconds of these processes so far (exited ones count 0). */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return ticks / 100;
}

/**
 * A bare fastify server in its own process on HTTPS with the same certificate, answering every
 * POST /agent/status with `reply` (the real server's answer, so the same bytes go back).
 */
export async function bareFastify(work, tls, reply) {
  const require = createRequire(new URL('../../packages/server/package.json', import.meta.url));
  const script = join(work, 'bare.cjs');
  const replyFile = join(work, 'bare-reply.json');
  writeFileSync(replyFile, reply);
  writeFileSync(
    script,
    `const fs = require('node:fs');
     const reply = fs.readFileSync(${JSON.stringify(replyFile)}, 'utf8');
     const app = require(${JSON.stringify(require.resolve('fastify'))})({
       bodyLimit: 1048576,
       https: { cert: fs.readFileSync(${JSON.stringify(tls.serverCertFile)}), key: fs.readFileSync(${JSON.stringify(tls.serverKeyFile)}) },
     });
     app.post('/agent/status', async (req, res) => res.header('content-type', 'application/json; charset=utf-8').send(reply));
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
  return {
    url,
    pid: child.pid,
    stop: () =>
      new Promise((r) => {
        child.once('exit', r);
        child.kill('SIGTERM');
      }),
  };
}

export function quantile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
}
export const median = (xs) => quantile(xs, 0.5);
export const min = (xs) => Math.min(...xs);
export const ms = (x) => `${x.toFixed(1)} ms`;

/** The machine and its load now: every figure is read against it. */
export function machineLine() {
  const [l1, l5] = readFileSync('/proc/loadavg', 'utf8').split(' ');
  const cpus = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm)?.length ?? '?';
  return `machine: ${cpus} cores, load average ${l1} (1 min) ${l5} (5 min) at ${new Date().toISOString()}`;
}

/** One `BENCH_RESULT {json}` line: the machine-readable form of a figure (see bench/run-all.mjs). */
export function benchResult(line) {
  const round = (x) => (typeof x === 'number' && Number.isFinite(x) ? Number(x.toPrecision(4)) : x);
  const out = Object.fromEntries(Object.entries(line).map(([k, v]) => [k, round(v)]));
  console.log(`BENCH_RESULT ${JSON.stringify(out)}`);
}
