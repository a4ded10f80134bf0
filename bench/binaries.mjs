#!/usr/bin/env node
// Benchmark (not a test): the shipped single executables beside a bare SEA built in this run
// from the same pinned Node with the same SEA config, whose program only prints a word.
// Prints start-to-exit times (BasicAgentCtl --version, BasicAgentCtl -c getinfo.kernel,
// boot -T), the same with a V8 code cache (x86_64 only, the option we turned down), and the
// sizes of the runtime, the binaries and the RPMs.
//
//   node bench/binaries.mjs [--dist dist] [--runs 20]
// Needs a dist/ from scripts/package.sh (x86_64 binaries; RPMs when present).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSea, strippedRuntime, NODE_VERSION } from '../scripts/sea.mjs';

const { values } = parseArgs({
  options: { dist: { type: 'string', default: 'dist' }, runs: { type: 'string', default: '20' } },
});
const runs = Number(values.runs);
const dist = resolve(values.dist);
const bin = join(dist, 'bin', 'x86_64');
if (!(runs >= 1) || !existsSync(join(bin, 'boot')) || !existsSync(join(bin, 'BasicAgent'))) {
  console.error(
    `usage: binaries.mjs [--dist DIR] [--runs N]; needs ${bin}/boot and BasicAgent (scripts/package.sh all 1.0.0-1)`,
  );
  process.exit(2);
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p90: at(0.9), min: s[0] };
}

function time(cmd, args) {
  const samples = [];
  // One untimed run: page cache warm for every variant alike (each binary is ~110 MB).
  for (let i = 0; i <= runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    if (i > 0) samples.push(ms);
  }
  return stats(samples);
}

const work = mkdtempSync(join(tmpdir(), 'aspire-bench-bin-'));
try {
  // The baseline: same runtime, same SEA config, a program that only prints a word.
  const bare = join(work, 'bare.cjs');
  writeFileSync(bare, "console.log('hello');\n");
  buildSea({ bundle: bare, name: 'bare', outDir: join(work, 'sea'), arches: ['x86_64'] });
  const bareBin = join(work, 'sea', 'x86_64', 'bare');

  // The variant we turned down: the same programs bundled from the current source, with a V8
  // code cache in the blob (host arch only; see docs/packaging.md).
  const bundleDir = join(work, 'bundle');
  const node = join(resolve(import.meta.dirname, '..'), 'node_modules', 'node', 'bin', 'node');
  const b = spawnSync(node, [join(import.meta.dirname, '..', 'scripts', 'build.mjs'), 'basic-agent', 'boot'], {
    env: { ...process.env, ASPIRE_BUILD_DIR: bundleDir },
  });
  if (b.status !== 0) throw new Error(`build failed: ${b.stderr}`);
  buildSea({
    bundle: join(bundleDir, 'basic-agent.cjs'),
    name: 'BasicAgentCtl',
    outDir: join(work, 'cc'),
    arches: ['x86_64'],
    codeCache: true,
  });
  buildSea({
    bundle: join(bundleDir, 'boot.cjs'),
    name: 'boot',
    outDir: join(work, 'cc'),
    arches: ['x86_64'],
    codeCache: true,
  });
  const cc = join(work, 'cc', 'x86_64');

  const sample = join(work, 'boot.json');
  writeFileSync(sample, JSON.stringify({ step: 600, logLevel: 'info' }));

  const rows = [
    ['bare SEA: prints a word (baseline)', time(bareBin, [])],
    ['BasicAgentCtl --version', time(join(bin, 'BasicAgentCtl'), ['--version'])],
    ['BasicAgentCtl -c getinfo.kernel', time(join(bin, 'BasicAgentCtl'), ['-c', 'getinfo.kernel'])],
    ['boot -T -c boot.json', time(join(bin, 'boot'), ['-T', '-c', sample])],
    ['  with code cache: BasicAgentCtl --version', time(join(cc, 'BasicAgentCtl'), ['--version'])],
    ['  with code cache: boot -T -c boot.json', time(join(cc, 'boot'), ['-T', '-c', sample])],
  ];
  const base = rows[0][1].median;
  const fmt = (ms) => `${ms.toFixed(1)} ms`;
  console.log(`Single executables on Node ${NODE_VERSION}, start-to-exit, ${runs} runs each (x86_64, this host)`);
  for (const [name, s] of rows) {
    console.log(
      `  ${name.padEnd(44)} median ${fmt(s.median).padStart(9)}  p90 ${fmt(s.p90).padStart(9)}  min ${fmt(s.min).padStart(9)}  +${fmt(s.median - base)} over baseline`,
    );
  }

  const mb = (p) => `${(statSync(p).size / 1e6).toFixed(1)} MB`;
  console.log('\nSizes');
  const rt = strippedRuntime('x86_64');
  console.log(`  ${'node runtime x86_64, stripped'.padEnd(44)} ${mb(rt.node).padStart(9)}`);
  console.log(`  ${'bare SEA x86_64 (baseline)'.padEnd(44)} ${mb(bareBin).padStart(9)}`);
  for (const arch of ['x86_64', 'aarch64']) {
    for (const name of ['boot', 'BasicAgent', 'aspire']) {
      const p = join(dist, 'bin', arch, name);
      if (existsSync(p)) console.log(`  ${`${name} ${arch}`.padEnd(44)} ${mb(p).padStart(9)}`);
    }
  }
  console.log(`  ${'BasicAgentCtl x86_64 with code cache'.padEnd(44)} ${mb(join(cc, 'BasicAgentCtl')).padStart(9)}`);
  for (const f of readdirSync(dist)
    .filter((f) => f.endsWith('.rpm'))
    .sort()) {
    console.log(`  ${f.padEnd(44)} ${mb(join(dist, f)).padStart(9)}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
