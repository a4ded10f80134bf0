#!/usr/bin/env node
// Run every benchmark in turn (`npm run bench`), one at a time so they never compete for the
// machine's cores, echo their output, collect their `BENCH_RESULT {json}` lines and rewrite the
// one table of docs/performance.md between `<!-- bench:table:start -->` and
// `<!-- bench:table:end -->` (metric, figure, baseline, ratio, target, command to reproduce), with
// the machine and its load noted. Each benchmark measures its own baseline in the same run.
//
// Short defaults (minutes, not hours); --full runs each benchmark with its own defaults (the
// hour-long boot soak, the 10-minute server soak). With --only, the rows of the benchmarks not
// run are kept from the table as it was.
//
//   npm run bench [-- --full] [-- --only server-status,hub-10k] [-- --no-write]
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { notesOfTable, renderTable, replaceTable, rowsOfTable } from './lib/perf-table.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const docFile = join(here, '..', 'docs', 'performance.md');
const argv = process.argv.slice(2);
const full = argv.includes('--full');
const write = !argv.includes('--no-write');
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1]?.split(',') : undefined;

/** name, short args, env for the short run; `needs`: a path that must exist (else skipped). */
const BENCHES = [
  { name: 'boot-idle', short: ['--duration', '30', '--sea'] },
  {
    name: 'boot-soak',
    short: [],
    env: { ASPIRE_SOAK_DURATION: '180', ASPIRE_SOAK_SAMPLE: '15', ASPIRE_SOAK_WARMUP: '60' },
  },
  { name: 'supervise-100', short: ['--duration', '20'] },
  { name: 'basic-ctl', short: ['--runs', '5'] },
  { name: 'server-status', short: ['--seconds', '3', '--rounds', '3'] },
  {
    name: 'server-soak',
    short: [],
    env: {
      ASPIRE_SERVER_SOAK_DURATION: '120',
      ASPIRE_SERVER_SOAK_SAMPLE: '10',
      ASPIRE_SERVER_SOAK_WARMUP: '30',
      ASPIRE_SERVER_SOAK_IDLE: '20',
    },
  },
  { name: 'hub-10k', short: ['--runs', '3'] },
  { name: 'basic-channel', short: [] },
  { name: 'task-split', short: ['--rounds', '2'] },
  // Issue 12 (docs/scale.md "Benchmarks"): a throwaway PostgreSQL, several aspire nodes; each under ~3 min.
  { name: 'scale-ingestion', short: ['--seconds', '2', '--rounds', '2'] },
  { name: 'scale-fanout', short: ['--channels', '600', '--runs', '4'] },
  // Needs dist/ from scripts/package.sh; skipped with a note when it is not there.
  { name: 'binaries', short: [], needs: join(here, '..', 'dist') },
];

/** Run one benchmark, echoing its output; resolves with its exit status and BENCH_RESULT lines. */
function runBench(b) {
  const args = [join(here, `${b.name}.mjs`), ...(full ? [] : b.short)];
  const env = { ...process.env, ...(full ? {} : b.env) };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const results = [];
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      process.stdout.write(d);
      buf += d;
      for (let n = buf.indexOf('\n'); n >= 0; n = buf.indexOf('\n')) {
        const line = buf.slice(0, n);
        buf = buf.slice(n + 1);
        const m = /^BENCH_RESULT (\{.*\})\s*$/.exec(line);
        if (!m) continue;
        try {
          results.push(JSON.parse(m[1]));
        } catch {
          console.log(`run-all: bench/${b.name}.mjs printed a BENCH_RESULT line that is not JSON`);
        }
      }
    });
    child.once('exit', (code, signal) => resolve({ status: code ?? signal, results }));
  });
}

const load0 = loadavg();
const started = new Date();
const collected = [];
const ran = [];
let failed = 0;
for (const b of BENCHES) {
  if (only && !only.includes(b.name)) continue;
  if (!existsSync(join(here, `${b.name}.mjs`))) continue;
  const shown = full ? '' : [...Object.entries(b.env ?? {}).map(([k, v]) => `${k}=${v}`), ...b.short].join(' ');
  console.log(`\n=== bench/${b.name}.mjs ${shown}`);
  if (b.needs && !existsSync(b.needs)) {
    console.log(`skipped: ${b.needs} does not exist (run scripts/package.sh first)`);
    continue;
  }
  ran.push(b.name);
  const r = await runBench(b);
  if (r.status !== 0) {
    failed++;
    console.log(`bench/${b.name}.mjs exited ${r.status}`);
  }
  if (r.results.length === 0) console.log(`(bench/${b.name}.mjs printed no BENCH_RESULT line)`);
  collected.push(...r.results);
}
const load1 = loadavg();

if (write && ran.length > 0) {
  const doc = readFileSync(docFile, 'utf8');
  const benchOf = (row) => /bench\/([\w-]+)\.mjs/.exec(row.command ?? '')?.[1];
  const kept = rowsOfTable(doc).filter((row) => !ran.includes(benchOf(row)));
  const machine =
    `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
    `Node ${process.version}; load average ${load0[0].toFixed(2)} at the start, ${load1[0].toFixed(2)} at the end ` +
    `(1 min; the machine is shared, so absolute figures are noisy: read the ratios)`;
  const flags = [full ? '--full' : '', only ? `--only ${only.join(',')}` : ''].filter(Boolean).join(' ');
  const note = `Measured ${started.toISOString()} by \`npm run bench${flags ? ` -- ${flags}` : ''}\` on ${machine}.`;
  // Rows kept from an earlier run keep that run's note too: for each kept row, the latest note
  // whose run included its benchmark (a note without --only ran them all). Notes whose every
  // benchmark has been measured again since are dropped.
  const oldNotes = notesOfTable(doc);
  const benchesOfNote = (n) => /--only ([\w,-]+)/.exec(n)?.[1].split(',');
  const keepNotes = new Set();
  for (const bench of new Set(kept.map(benchOf))) {
    const latest = oldNotes.findLast((n) => benchesOfNote(n)?.includes(bench) ?? true);
    if (latest) keepNotes.add(latest);
  }
  const notes = [...oldNotes.filter((n) => keepNotes.has(n)), note];
  writeFileSync(docFile, replaceTable(doc, renderTable([...kept, ...collected], notes)));
  console.log(`\nrun-all: ${collected.length} figures written to docs/performance.md (${kept.length} rows kept)`);
}
process.exit(failed ? 1 : 0);
