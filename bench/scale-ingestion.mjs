#!/usr/bin/env node
// Benchmark (not a test): status ingestion at scale (issue 12). BootAgent-format status pushes
// over HTTPS (bench/lib/scale-load.mjs, its own process) to
//   - a bare fastify HTTPS server answering the real server's reply bytes (the baseline),
//   - one real `aspire` node on SQLite,
//   - one real `aspire` node on PostgreSQL,
//   - three real `aspire` nodes on one PostgreSQL (the agents spread over them, as BootAgent
//     server lists spread them): what the cluster layer and the shared database cost,
// all running at once, measured in turn A B C D A B C D for --rounds rounds of --seconds each.
// PostgreSQL is a throwaway instance (packages/testing/src/postgres.ts) restarted here with a
// production's durability (fsync, full_page_writes and synchronous_commit on: an answered push
// is on disk; --fsync off for the tests' settings) and pg_stat_statements, which counts the
// statements each push costs the database (its round trips, BEGIN and COMMIT included).
// PostgreSQL runs on the same cores as the nodes and the generator.
// Prints per target min and median of the rounds' rates, median p50/p99, the ratio to the
// baseline, the CPU time of the aspire and postgres processes per push, statements and WAL
// flushes per push, and the generator's CPU.
//
//   npx node bench/scale-ingestion.mjs [--seconds 5] [--rounds 3] [--connections 32]
//        [--hosts 10000] [--agents 2000] [--fsync on|off]
//        (or ASPIRE_BENCH_SCALE_HOSTS, ASPIRE_BENCH_SCALE_AGENTS)
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Agent, request } from 'undici';
import { setup } from './basic-helpers.mjs';
import {
  BENCH_SERVER_CONFIG,
  bareFastify,
  benchResult,
  cpuSeconds,
  ingestHost,
  machineLine,
  median,
  min,
  ms,
  postgresCpuSeconds,
  seedPostgres,
  seedSqlite,
  sizeOf,
  startPgNodes,
} from './lib/scale-setup.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    hosts: { type: 'string' },
    agents: { type: 'string' },
    fsync: { type: 'string', default: 'on' },
  },
});
const seconds = Number(values.seconds);
const rounds = sizeOf(values.rounds, 'ASPIRE_BENCH_SCALE_ROUNDS', 3);
const connections = sizeOf(values.connections, 'ASPIRE_BENCH_SCALE_CONNECTIONS', 32);
const HOSTS = sizeOf(values.hosts, 'ASPIRE_BENCH_SCALE_HOSTS', 10_000);
const AGENTS = Math.min(HOSTS, sizeOf(values.agents, 'ASPIRE_BENCH_SCALE_AGENTS', 2000));
const durable = values.fsync === 'on';
if (!(seconds > 0) || connections < 3 || !['on', 'off'].includes(values.fsync)) {
  console.error(
    'usage: scale-ingestion.mjs [--seconds S>0] [--rounds R] [--connections C>=3] [--hosts N] [--agents A] [--fsync on|off]',
  );
  process.exit(2);
}
const LOAD = new URL('./lib/scale-load.mjs', import.meta.url).pathname;

const { helpers, cleanup } = await setup();
const work = mkdtempSync(join(tmpdir(), 'aspire-bench-scale-ingest-'));
const tls = helpers.makeTestCa();
const tlsConfig = { tlsCert: tls.serverCertFile, tlsKey: tls.serverKeyFile };
const started = [];

/**
 * Restart the helpers' PostgreSQL with the settings this benchmark measures under: durable
 * (unless --fsync off) and pg_stat_statements loaded. pg_ctl runs as the postgres user when we
 * are root, as the helper starts it.
 */
async function restartPostgres(pgh) {
  const bin = helpers.postgresBinDir();
  const data = join(pgh.dir, 'data');
  const settings = [
    'max_connections=300',
    'shared_preload_libraries=pg_stat_statements',
    ...(durable
      ? ['fsync=on', 'full_page_writes=on', 'synchronous_commit=on']
      : ['fsync=off', 'full_page_writes=off', 'synchronous_commit=off']),
  ];
  const opts = `-h 127.0.0.1 -p ${pgh.port} -k ${pgh.dir} ${settings.map((c) => `-c ${c}`).join(' ')}`;
  const args = ['-D', data, '-l', join(pgh.dir, 'postgres.log'), '-o', opts, '-m', 'fast', '-w', 'restart'];
  const pgCtl = join(bin, 'pg_ctl');
  await promisify(execFile)(
    ...(process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', pgCtl, ...args]] : [pgCtl, args]),
  );
  await pgh.psql('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
}

/**
 * Statements (pg_stat_statements calls) run in `database` so far, and the WAL flushes to disk
 * of the whole server (pg_stat_wal: what a durable commit waits for; the other database's
 * heartbeats too, a few a second).
 */
async function statementsIn(pgh, database) {
  const [calls, syncs] = (
    await pgh.psql(
      `SELECT (SELECT COALESCE(SUM(s.calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '${database}'),
              (SELECT wal_sync FROM pg_stat_wal)`,
    )
  )
    .trim()
    .split('|')
    .map(Number);
  return { calls, syncs };
}

/** Run the generator once against `urls`; its JSON line, with the CPU the servers used meanwhile. */
function generate(urls, meters, once = false) {
  const args = [LOAD, '--urls', urls.join(','), '--ca', tls.caCertFile, '--hosts', String(HOSTS)];
  args.push('--agents', String(AGENTS), '--seconds', String(seconds), '--connections', String(connections));
  if (once) args.push('--once');
  const before = meters.map((m) => m());
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`scale-load.mjs exited ${code}`));
      const r = JSON.parse(out.trim().split('\n').pop());
      // CPU seconds of each process group (aspire nodes, postgres) per push, in ms.
      r.serverCpuMs = meters.map((m, k) => ((m() - before[k]) * 1000) / Math.max(1, r.n));
      if (r.errors > 0) console.log(`  (${r.errors} non-200 answers, first: ${r.firstError})`);
      resolve(r);
    });
  });
}

try {
  const pgh = await helpers.startPostgres({ database: 'bench_boot' });
  started.push(() => pgh.stop());
  await restartPostgres(pgh);
  const pgCpu = () => postgresCpuSeconds(pgh);
  const walBytes = async () => Number(await pgh.psql("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')"));

  // One node on SQLite: started once to create and migrate its database, seeded while stopped.
  const sqliteDir = join(work, 'sqlite');
  mkdirSync(sqliteDir);
  const sqliteOpts = { dataDir: sqliteDir, caCert: tls.caCert, config: { ...BENCH_SERVER_CONFIG, ...tlsConfig } };
  await (await helpers.startAspire(sqliteOpts)).stop();
  seedSqlite(join(sqliteDir, 'aspire.db'), 0, HOSTS, ingestHost);
  const sqlite = await helpers.startAspire(sqliteOpts);
  started.push(() => sqlite.stop());

  // One node, then three nodes, each cluster on its own database of the same PostgreSQL.
  const pgOpts = { caCert: tls.caCert, config: tlsConfig };
  const one = await startPgNodes(helpers, pgh, 'bench_one', 1, pgOpts);
  started.push(...one.nodes.map((n) => () => n.stop()));
  const three = await startPgNodes(helpers, pgh, 'bench_three', 3, pgOpts);
  started.push(...three.nodes.map((n) => () => n.stop()));
  await seedPostgres(one.url, 0, HOSTS, ingestHost);
  await seedPostgres(three.url, 0, HOSTS, ingestHost);

  // The real answer to a push, so the baseline sends back the same bytes.
  const dispatcher = new Agent({ connect: { ca: tls.caCert } });
  const first = ingestHost(0);
  const probe = await request(`${sqlite.url}/agent/status`, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/json', 'x-aspire-credential': first.credential },
    body: JSON.stringify({
      hostname: first.hostname,
      agentsn: first.agentsn,
      version: 'bootagent-1.0.0-x86_64',
      uptime: 1,
      timestamp: Math.floor(Date.now() / 1000),
      step: 600,
      agents: [],
      jobs: [],
      events: [],
      os: 'linux',
      arch: 'x86_64',
    }),
  });
  const reply = await probe.body.text();
  if (probe.statusCode !== 200) throw new Error(`probe push: ${probe.statusCode} ${reply}`);
  await dispatcher.close();
  const bare = await bareFastify(work, tls, reply);
  started.push(() => bare.stop());

  const cpuOf = (handles) => () => cpuSeconds(handles.map((h) => h.child.proc.pid));
  const targets = [
    { name: 'bare fastify, same reply bytes', urls: [bare.url], cpu: [() => cpuSeconds([bare.pid])] },
    { name: '1 node, SQLite', urls: [sqlite.url], cpu: [cpuOf([sqlite])] },
    { name: '1 node, PostgreSQL', urls: one.nodes.map((n) => n.url), cpu: [cpuOf(one.nodes), pgCpu], db: 'bench_one' },
    {
      name: '3 nodes, one PostgreSQL',
      urls: three.nodes.map((n) => n.url),
      cpu: [cpuOf(three.nodes), pgCpu],
      db: 'bench_three',
    },
  ];
  // First push of every agent on each target: a full write of each host's row.
  for (const t of targets) t.first = await generate(t.urls, t.cpu, true);
  // One round not counted: every node's JIT warms up on steady pushes before anything is measured.
  for (const t of targets) await generate(t.urls, t.cpu);
  for (const t of targets) t.runs = [];
  for (let r = 0; r < rounds; r++) {
    for (const t of targets) {
      // WAL written per push (the whole PostgreSQL server's, so the other cluster's heartbeats too: small).
      const w0 = t.db ? await walBytes() : 0;
      const s0 = t.db ? await statementsIn(pgh, t.db) : undefined;
      const run = await generate(t.urls, t.cpu);
      if (t.db) {
        run.walPerPush = ((await walBytes()) - w0) / Math.max(1, run.n);
        // Everything the cluster ran meanwhile (heartbeats, sweeps: a few a second) is counted too.
        const s1 = await statementsIn(pgh, t.db);
        run.statementsPerPush = (s1.calls - s0.calls) / Math.max(1, run.n);
        run.syncsPerPush = (s1.syncs - s0.syncs) / Math.max(1, run.n);
      }
      t.runs.push(run);
    }
  }

  console.log(
    `POST /agent/status over HTTPS (BootAgent-format bodies), ${connections} connections, ${AGENTS} agents over ${HOSTS} known hosts;`,
  );
  console.log(
    `${rounds} rounds of ${seconds} s per target, targets interleaved (A B C D A B C D ...), all running at once`,
  );
  console.log(machineLine());
  console.log(
    `PostgreSQL ${durable ? 'durable (fsync, full_page_writes, synchronous_commit on)' : 'with fsync, full_page_writes and synchronous_commit off'}, on the same cores as the nodes and the generator`,
  );
  const base = median(targets[0].runs.map((r) => r.rate));
  let generatorBound = false;
  for (const t of targets) {
    const rates = t.runs.map((r) => r.rate);
    const gen = Math.max(...t.runs.map((r) => r.cpu));
    const genWait = Math.max(...t.runs.map((r) => r.wait));
    const cpuMs = t.cpu.map((_, k) => median(t.runs.map((r) => r.serverCpuMs[k])));
    const ratio = median(rates) / base;
    generatorBound ||= t.runs.some((r) => r.cpu + (r.wait || 0) > 0.9);
    console.log(
      `  ${t.name.padEnd(32)} ${min(rates).toFixed(0).padStart(6)} min ${median(rates).toFixed(0).padStart(6)} median req/s` +
        `  p50 ${ms(median(t.runs.map((r) => r.p50)))}  p99 ${ms(median(t.runs.map((r) => r.p99)))}` +
        `  ${(ratio * 100).toFixed(0).padStart(3)}% of bare  first push ${t.first.rate.toFixed(0)}/s` +
        `  CPU/push ${cpuMs.map((c) => `${c.toFixed(2)} ms`).join(' + ')}${cpuMs.length > 1 ? ' (aspire + postgres)' : ''}` +
        (t.runs[0].walPerPush === undefined
          ? ''
          : `  WAL/push ${median(t.runs.map((r) => r.walPerPush)).toFixed(0)} B` +
            `  statements/push ${median(t.runs.map((r) => r.statementsPerPush)).toFixed(2)}` +
            `  WAL flushes/push ${median(t.runs.map((r) => r.syncsPerPush)).toFixed(2)}`) +
        `  generator CPU ${(gen * 100).toFixed(0)}% (waited for a core ${(genWait * 100).toFixed(0)}%)`,
    );
    t.summary = { rate: median(rates), ratio, cpuMs };
    benchResult({
      metric: `status ingestion, ${t.name}`,
      figure: median(rates),
      unit: 'req/s',
      baseline: t === targets[0] ? null : base,
      ratio: t === targets[0] ? null : ratio,
      command: 'node bench/scale-ingestion.mjs',
    });
  }
  // Where the one-node database's time went over the whole run (first pushes and warm-up too).
  const top = await pgh.psql(
    `SELECT s.calls || ' calls, ' || round((s.total_exec_time / s.calls * 1000)::numeric, 1) || ' us each, ' ||
            round(s.total_exec_time::numeric) || ' ms: ' || left(regexp_replace(s.query, '\\s+', ' ', 'g'), 90)
       FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = 'bench_one'
       ORDER BY s.total_exec_time DESC LIMIT 6`,
  );
  console.log('  PostgreSQL, one node: statements by total execution time');
  for (const line of top.trim().split('\n')) console.log(`    ${line}`);
  const [, sq, p1, p3] = targets.map((t) => t.summary);
  // Size of the hosts table with its indexes after the pushes (dead row versions included): per host.
  const hostsBytes = Number(await pgh.psql("SELECT pg_total_relation_size('hosts')", 'bench_one'));
  console.log(`  PostgreSQL hosts table with indexes: ${(hostsBytes / HOSTS).toFixed(0)} bytes per host`);
  console.log(
    `  PostgreSQL vs SQLite, one node: ${(p1.rate / sq.rate).toFixed(2)}x the rate; three nodes vs one on PostgreSQL: ${(p3.rate / p1.rate).toFixed(2)}x`,
  );
  console.log(
    generatorBound
      ? '  NOTE: in some run the generator was busy or waiting for a core over 90% of the time: there it (or the machine), not the server, set the pace (figures are a floor)'
      : '  the generator was busy or waiting for a core under 90% of the time: the servers set the pace',
  );
} finally {
  for (const stop of started.reverse()) await stop().catch((e) => console.error(`stop: ${e.message}`));
  tls.cleanup();
  // The host CA the helpers made for this process's servers (startAspire): its temp dir too.
  rmSync(dirname(helpers.sharedTestHostCa().certFile), { recursive: true, force: true });
  cleanup();
  rmSync(work, { recursive: true, force: true });
}
