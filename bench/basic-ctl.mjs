#!/usr/bin/env node
// Benchmark (not a test): BasicAgentCtl start-to-exit for every getinfo collector (users with -A),
// beside a bare `node -e 0` on the same runtime in the same run (and, with ASPIRE_BIN_DIR set,
// the single executable's `--version` as its own bare start).
//
// With --sea, single executables for this host's arch are built in a temp dir (scripts/sea.mjs):
// a bare one (a bundle that only exits) as the baseline, and BasicAgent with its BasicAgentCtl link.
//
//   npx node bench/basic-ctl.mjs [--runs 15] [--sea] [--only kernel,users]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, setup, stats } from './basic-helpers.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    sea: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const COLLECTORS = [
  'kernel',
  'users',
  'os',
  'cpu',
  'memory',
  'disks',
  'network',
  'uptime',
  'processes',
  'ports',
  'packages',
];
const collectors = values.only ? values.only.split(',') : COLLECTORS;
/** One row per collector: [label, args after the program]. */
const collectorRows = collectors.map((c) =>
  c === 'users'
    ? [`-c getinfo.users -a -A`, ['-c', 'getinfo.users', '-a', '-A']]
    : [`-c getinfo.${c}`, ['-c', `getinfo.${c}`]],
);
const runs = Number(values.runs);
if (!(runs >= 1)) {
  console.error('usage: basic-ctl.mjs [--runs N>=1]');
  process.exit(2);
}
const { helpers, cleanup } = await setup();
const ctl = helpers.binary('BasicAgentCtl');

function time(cmd, args) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    samples.push(ms);
  }
  return stats(samples);
}

function table(title, rows) {
  const base = rows[0][1].median;
  console.log(title);
  for (const [name, s] of rows) {
    console.log(
      `  ${name.padEnd(42)} median ${fmt(s.median).padStart(9)}  p90 ${fmt(s.p90).padStart(9)}  min ${fmt(s.min).padStart(9)}  x${(s.median / base).toFixed(2)} of baseline`,
    );
  }
}

table(
  `BasicAgentCtl start-to-exit, ${runs} runs each (${process.env.ASPIRE_BIN_DIR ? 'single executable' : 'bundle on node ' + process.version})`,
  [
    ['bare node -e 0 (baseline)', time(process.execPath, ['-e', '0'])],
    ['BasicAgentCtl --version', time(ctl.cmd, [...ctl.args, '--version'])],
    ...collectorRows.map(([label, args]) => [`BasicAgentCtl ${label}`, time(ctl.cmd, [...ctl.args, ...args])]),
  ],
);

if (values.sea) {
  const { buildSea } = await import('../scripts/sea.mjs');
  const arch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch];
  const dir = mkdtempSync(join(tmpdir(), 'aspire-bench-sea-'));
  try {
    writeFileSync(join(dir, 'bare.cjs'), 'process.exit(0);\n');
    const [bare] = buildSea({ bundle: join(dir, 'bare.cjs'), name: 'bare', outDir: dir, arches: [arch] });
    const [agent] = buildSea({
      bundle: join(process.env.ASPIRE_BUILD_DIR, 'basic-agent.cjs'),
      name: 'BasicAgent',
      outDir: dir,
      arches: [arch],
    });
    const seaCtl = join(dir, arch, 'BasicAgentCtl');
    symlinkSync('BasicAgent', seaCtl);
    table(`single executables (${arch}), ${runs} runs each`, [
      ['bare SEA (baseline)', time(bare.path, [])],
      ...collectorRows.map(([label, args]) => [`BasicAgentCtl ${label}`, time(seaCtl, args)]),
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
cleanup();
