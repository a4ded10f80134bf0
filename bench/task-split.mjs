#!/usr/bin/env node
// Benchmark (not a test): issue 13 B.3, a task for 100,000 AgentSNs is accepted and split.
// The real server (built bundle); 100,000 hosts are written straight into its database (as
// registered hosts), then POST /api/v1/server/task with all of them is timed to its answer
// (body parse, validation, unknown-host check, the task row and 100,000 subtasks admitted).
// Baseline in the same run: a bare INSERT of the same 100,000 rows (id, taskid, agentsn,
// state) into a scratch table of the same database, in one transaction. Runs A B A B ...
//
//   node_modules/.bin/node bench/task-split.mjs [--hosts 100000] [--rounds 2]
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { fmt, setup, stats } from './basic-helpers.mjs';

const { values } = parseArgs({
  options: { hosts: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '2' } },
});
const n = Number(values.hosts);
const rounds = Number(values.rounds);
if (!(n >= 1) || !(rounds >= 1)) {
  console.error('usage: task-split.mjs [--hosts N>=1] [--rounds R>=1]');
  process.exit(2);
}
const { helpers, cleanup } = await setup();
const srv = await helpers.startAspire({ config: { schedulerIntervalMs: 1000 } });
const db = new DatabaseSync(join(srv.dataDir, 'aspire.db'));
db.exec('PRAGMA busy_timeout = 10000');
const sns = Array.from({ length: n }, (_, i) => `bench-${String(i).padStart(6, '0')}-${randomUUID()}`);
try {
  const now = Date.now();
  db.exec('BEGIN');
  const ins = db.prepare(
    `INSERT INTO hosts(agentsn, hostname, status, credential_hash, gmt_create, gmt_modify) VALUES (?, ?, 'registered', 'x', ?, ?)`,
  );
  for (const sn of sns) ins.run(sn, sn, now, now);
  db.exec('COMMIT');
  db.exec(
    'CREATE TABLE bench_rows (id TEXT PRIMARY KEY, taskid INTEGER NOT NULL, agentsn TEXT NOT NULL, state TEXT NOT NULL)',
  );
  const body = JSON.stringify({ command: 'config', agents: sns, parameters: { step: 600 } });
  console.log(
    `task-split: ${n.toLocaleString()} AgentSNs, body ${(body.length / 1048576).toFixed(1)} MiB, ${rounds} rounds A B`,
  );

  const a = [];
  const b = [];
  for (let r = 0; r < rounds; r++) {
    // A: the real route.
    let t0 = performance.now();
    const res = await fetch(`${srv.url}/api/v1/server/task`, {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/json' },
      body,
    });
    const answer = await res.json();
    a.push(performance.now() - t0);
    if (res.status !== 200 || answer.results.length !== n)
      throw new Error(`task refused: ${res.status} ${JSON.stringify(answer).slice(0, 300)}`);
    const counted = db.prepare('SELECT COUNT(*) AS c FROM subtasks WHERE taskid = ?').get(answer.id).c;
    if (counted !== n) throw new Error(`task ${answer.id} has ${counted} subtasks, not ${n}`);
    await fetch(`${srv.url}/api/v1/server/task/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: answer.id }),
    });
    // B: the bare INSERT of the same rows.
    t0 = performance.now();
    db.exec('BEGIN IMMEDIATE');
    const row = db.prepare(`INSERT INTO bench_rows(id, taskid, agentsn, state) VALUES (?, ?, ?, 'READY')`);
    for (const sn of sns) row.run(randomUUID(), r, sn);
    db.exec('COMMIT');
    b.push(performance.now() - t0);
    console.log(`  round ${r + 1}: A POST /task ${fmt(a[r])}   B bare INSERT ${fmt(b[r])}`);
  }
  const sa = stats(a);
  const sb = stats(b);
  console.log(`A POST /task (accept + split): min ${fmt(sa.min)} median ${fmt(sa.median)}`);
  console.log(`B bare INSERT of the rows:     min ${fmt(sb.min)} median ${fmt(sb.median)}`);
  console.log(`ratio A/B (median): ${(sa.median / sb.median).toFixed(2)}x`);
} finally {
  db.close();
  await srv.stop();
  cleanup();
}
