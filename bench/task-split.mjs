#!/usr/bin/env node
// Benchmark (not a test): issue 13 B.3, a task for 100,000 AgentSNs is accepted and split, on
// SQLite and on PostgreSQL. The real server (built bundle); 100,000 hosts are written straight
// into its database (as registered hosts), then POST /api/v1/server/task with all of them is
// timed to its answer (body parse, validation, unknown-host check, the task row and 100,000
// subtasks admitted, the 100,000 results answered). Baseline in the same run and database: a
// bare INSERT of the same 100,000 rows (id, taskid, agentsn, state) into a scratch table, in one
// transaction (SQLite: one prepared statement run per row; PostgreSQL: one multi-row INSERT from
// unnest of arrays). Runs A B A B ..., prints min, median and the ratio of the medians, and
// BENCH_RESULT lines. Target: a few seconds (<= 3 s) for 100,000 on the 2-core machine.
//
//   node_modules/.bin/node bench/task-split.mjs [--hosts 100000] [--rounds 3] [--store sqlite|postgres|both]
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { fmt, setup, stats } from './basic-helpers.mjs';
import { benchResult } from './bench-result.mjs';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
    store: { type: 'string', default: 'both' },
  },
});
const n = Number(values.hosts);
const rounds = Number(values.rounds);
const kinds = values.store === 'both' ? ['sqlite', 'postgres'] : [values.store];
if (!(n >= 1) || !(rounds >= 1) || !kinds.every((k) => k === 'sqlite' || k === 'postgres')) {
  console.error('usage: task-split.mjs [--hosts N>=1] [--rounds R>=1] [--store sqlite|postgres|both]');
  process.exit(2);
}
const TARGET_MS = 3000;
const { helpers, cleanup } = await setup();

/** The database side of one store: hosts seeded, the bare baseline insert, a subtask count. */
async function sqliteSide(srv) {
  const db = new DatabaseSync(join(srv.dataDir, 'aspire.db'));
  db.exec('PRAGMA busy_timeout = 10000');
  return {
    async seedHosts(sns, now) {
      db.exec('BEGIN');
      const ins = db.prepare(
        `INSERT INTO hosts(agentsn, hostname, status, credential_hash, gmt_create, gmt_modify) VALUES (?, ?, 'registered', 'x', ?, ?)`,
      );
      for (const sn of sns) ins.run(sn, sn, now, now);
      db.exec('COMMIT');
      db.exec(
        'CREATE TABLE bench_rows (id TEXT PRIMARY KEY, taskid INTEGER NOT NULL, agentsn TEXT NOT NULL, state TEXT NOT NULL)',
      );
    },
    async bareInsert(sns, round) {
      db.exec('BEGIN IMMEDIATE');
      const row = db.prepare(`INSERT INTO bench_rows(id, taskid, agentsn, state) VALUES (?, ?, ?, 'READY')`);
      for (const sn of sns) row.run(randomUUID(), round, sn);
      db.exec('COMMIT');
    },
    async subtasks(taskid) {
      return db.prepare('SELECT COUNT(*) AS c FROM subtasks WHERE taskid = ?').get(taskid).c;
    },
    async close() {
      db.close();
    },
  };
}

async function postgresSide(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    async seedHosts(sns, now) {
      await client.query(
        `INSERT INTO hosts(agentsn, hostname, status, credential_hash, gmt_create, gmt_modify)
         SELECT sn, sn, 'registered', 'x', $2, $2 FROM unnest($1::text[]) AS u(sn)`,
        [sns, now],
      );
      await client.query(
        'CREATE TABLE bench_rows (id TEXT PRIMARY KEY, taskid BIGINT NOT NULL, agentsn TEXT NOT NULL, state TEXT NOT NULL)',
      );
    },
    async bareInsert(sns, round) {
      const ids = sns.map(() => randomUUID());
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO bench_rows(id, taskid, agentsn, state) SELECT id, $3, sn, 'READY' FROM unnest($1::text[], $2::text[]) AS u(id, sn)`,
        [ids, sns, round],
      );
      await client.query('COMMIT');
    },
    async subtasks(taskid) {
      return Number((await client.query('SELECT COUNT(*) AS c FROM subtasks WHERE taskid = $1', [taskid])).rows[0].c);
    },
    async close() {
      await client.end();
    },
  };
}

async function post(srv, path, body) {
  const res = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/json' },
    body,
  });
  return { status: res.status, body: await res.json() };
}

async function runOn(kind) {
  let postgres;
  let srv;
  let side;
  try {
    if (kind === 'postgres') {
      postgres = await helpers.startPostgres();
      await postgres.createDatabase('bench');
      const url = `postgres://${postgres.user}:${postgres.password}@${postgres.host}:${postgres.port}/bench`;
      srv = await helpers.startAspire({
        config: { schedulerIntervalMs: 1000 },
        env: { ...process.env, ASPIRE_DATABASE_URL: url },
      });
      side = await postgresSide(url);
    } else {
      srv = await helpers.startAspire({ config: { schedulerIntervalMs: 1000 } });
      side = await sqliteSide(srv);
    }
    const sns = Array.from({ length: n }, (_, i) => `bench-${String(i).padStart(6, '0')}-${randomUUID()}`);
    await side.seedHosts(sns, Date.now());
    const body = JSON.stringify({ command: 'config', agents: sns, parameters: { step: 600 } });
    console.log(
      `task-split on ${kind}: ${n.toLocaleString()} AgentSNs, body ${(body.length / 1048576).toFixed(1)} MiB, ${rounds} rounds A B`,
    );
    const a = [];
    const b = [];
    for (let r = 0; r < rounds; r++) {
      // A: the real route.
      let t0 = performance.now();
      const answer = await post(srv, '/api/v1/server/task', body);
      a.push(performance.now() - t0);
      if (answer.status !== 200 || answer.body.results.length !== n)
        throw new Error(`task refused: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
      const counted = await side.subtasks(answer.body.id);
      if (counted !== n) throw new Error(`task ${answer.body.id} has ${counted} subtasks, not ${n}`);
      await post(srv, '/api/v1/server/task/revoke', JSON.stringify({ id: answer.body.id }));
      // B: the bare INSERT of the same rows.
      t0 = performance.now();
      await side.bareInsert(sns, r);
      b.push(performance.now() - t0);
      console.log(`  round ${r + 1}: A POST /task ${fmt(a[r])}   B bare INSERT ${fmt(b[r])}`);
    }
    const sa = stats(a);
    const sb = stats(b);
    const ratio = sa.median / sb.median;
    console.log(`${kind} A POST /task (accept + split): min ${fmt(sa.min)} median ${fmt(sa.median)}`);
    console.log(`${kind} B bare INSERT of the rows:     min ${fmt(sb.min)} median ${fmt(sb.median)}`);
    console.log(
      `${kind} ratio A/B (median): ${ratio.toFixed(2)}x; target <= ${TARGET_MS} ms: ${sa.median <= TARGET_MS ? 'met' : 'NOT met'}`,
    );
    benchResult({
      metric: `POST /task with ${n.toLocaleString()} AgentSNs, accepted and split (${kind})`,
      figure: sa.median,
      unit: 'ms',
      baseline: sb.median,
      ratio,
      target: `<= ${TARGET_MS} ms`,
      command: `node_modules/.bin/node bench/task-split.mjs --store ${kind}`,
    });
  } finally {
    await side?.close();
    await srv?.stop();
    await postgres?.stop();
  }
}

try {
  for (const kind of kinds) await runOn(kind);
} finally {
  cleanup();
}
