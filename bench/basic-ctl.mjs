#!/usr/bin/env node
// Benchmark (not a test): BasicAgentCtl start-to-exit for every getinfo collector (users with -A),
// each run interleaved with a bare start on the same runtime (A B A B ...): `node -e 0` for the
// bundle on the pinned node. Prints wall-clock and CPU (user + system, the children's rusage)
// min and median and the ratio of medians to the baseline, and BENCH_RESULT lines per row.
//
// With --sea, single executables for this host's arch are built in a temp dir (scripts/sea.mjs):
// a bare one whose program prints a word (the baseline), BasicAgent with its BasicAgentCtl link,
// and the same with a V8 code cache in the blob (to compare); --version, kernel and cpu rows.
//
// getinfo.cpu samples utilisation over 0.5 s (docs/basic-agent.md): its row measures that wait,
// not start-up; its ratio is given against the baseline plus the sample.
//
//   node_modules/.bin/node bench/basic-ctl.mjs [--runs 15] [--sea] [--only kernel,users]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setup, stats } from './basic-helpers.mjs';
import { benchResult } from './bench-result.mjs';

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
/** getinfo.cpu's utilisation sample (packages/basic-agent/src/collectors/cpu.ts CPU_SAMPLE_MS). */
const CPU_SAMPLE_MS = 500;
const TARGETS = { '--version': '<= 1.3x', kernel: '<= 1.3x', cpu: '<= 1.5x of bare + the 0.5 s sample' };
const runs = Number(values.runs);
if (!(runs >= 1)) {
  console.error('usage: basic-ctl.mjs [--runs N>=1] [--sea] [--only kernel,users]');
  process.exit(2);
}
const collectors = values.only ? values.only.split(',') : COLLECTORS;
/** One row per collector: [label, args after the program]. */
const argsOf = (c) =>
  c === '--version' ? ['--version'] : c === 'users' ? ['-c', 'getinfo.users', '-a', '-A'] : ['-c', `getinfo.${c}`];

/**
 * One run: wall-clock ms and the CPU ms (user + system) the kernel charged to the child. The CPU
 * figure is what the machine's other load moves least (a shared two-core machine stretches wall
 * time by whole scheduler slices); bash's `times` prints its children's getrusage in ms.
 */
function once(cmd, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', '"$@" >/dev/null 2>&1; rc=$?; times; exit $rc', 'bash', cmd, ...args], {
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
  // Second line: the children's user and system time, e.g. "0m0.021s 0m0.006s".
  const secs = (t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t);
    if (!m) throw new Error(`unexpected times output ${JSON.stringify(r.stdout)}`);
    return Number(m[1]) * 60 + Number(m[2]);
  };
  const [user, sys] = r.stdout.trim().split('\n')[1].trim().split(/\s+/);
  return { ms, cpu: (secs(user) + secs(sys)) * 1000 };
}

/** A B A B: the baseline and the measured command alternate; one untimed round warms the cache. */
function interleaved(base, measured) {
  const a = [];
  const b = [];
  for (let i = 0; i <= runs; i++) {
    const x = once(base.cmd, base.args);
    const y = once(measured.cmd, measured.args);
    if (i === 0) continue;
    a.push(x);
    b.push(y);
  }
  const of = (xs, k) => stats(xs.map((x) => x[k]));
  return { base: of(a, 'ms'), measured: of(b, 'ms'), baseCpu: of(a, 'cpu'), measuredCpu: of(b, 'cpu') };
}

const f1 = (ms) => `${ms.toFixed(1)} ms`.padStart(9);

function table(title, mode, base, rows, command) {
  console.log(title);
  for (const [name, exe] of rows) {
    const label = `BasicAgentCtl ${argsOf(name).join(' ')}`;
    const r = interleaved(base, { cmd: exe.cmd, args: [...exe.args, ...argsOf(name)] });
    // getinfo.cpu waits out its sample: compared with the bare start plus that wait (wall) or
    // with the bare start alone (CPU: the wait costs none).
    const wallBase = name === 'cpu' ? r.base.median + CPU_SAMPLE_MS : r.base.median;
    const wallRatio = r.measured.median / wallBase;
    const cpuRatio = r.measuredCpu.median / r.baseCpu.median;
    console.log(
      `  ${label.padEnd(36)} wall median ${f1(r.measured.median)} min ${f1(r.measured.min)} | baseline ${f1(r.base.median)} min ${f1(r.base.min)} x${wallRatio.toFixed(2)}${name === 'cpu' ? ' (of baseline + 500 ms)' : ''}`,
    );
    console.log(
      `  ${''.padEnd(36)} CPU  median ${f1(r.measuredCpu.median)} min ${f1(r.measuredCpu.min)} | baseline ${f1(r.baseCpu.median)} min ${f1(r.baseCpu.min)} x${cpuRatio.toFixed(2)}`,
    );
    benchResult({
      metric: `${label}, ${mode}, wall`,
      figure: r.measured.median,
      unit: 'ms',
      baseline: name === 'cpu' ? `${r.base.median.toFixed(1)} + ${CPU_SAMPLE_MS} ms sample` : r.base.median,
      ratio: wallRatio,
      target: TARGETS[name] ?? null,
      command,
    });
    benchResult({
      metric: `${label}, ${mode}, CPU (user+sys)`,
      figure: r.measuredCpu.median,
      unit: 'ms',
      baseline: r.baseCpu.median,
      ratio: cpuRatio,
      target: TARGETS[name] ? TARGETS[name].replace(' of bare + the 0.5 s sample', '') : null,
      command,
    });
  }
}

const { helpers, cleanup } = await setup();
try {
  const ctl = helpers.binary('BasicAgentCtl');
  const bundleMode = process.env.ASPIRE_BIN_DIR ? 'single executable' : `bundle on node ${process.version}`;
  table(
    `BasicAgentCtl start-to-exit, ${runs} runs each, interleaved with a bare node -e 0 (${bundleMode})`,
    bundleMode,
    { cmd: process.execPath, args: ['-e', '0'] },
    ['--version', ...collectors].map((c) => [c, ctl]),
    `node_modules/.bin/node bench/basic-ctl.mjs --runs ${runs}`,
  );

  if (values.sea) {
    const { buildSea } = await import('../scripts/sea.mjs');
    const arch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch];
    const dir = mkdtempSync(join(tmpdir(), 'aspire-bench-sea-'));
    try {
      mkdirBare(dir);
      const [bare] = buildSea({ bundle: join(dir, 'bare', 'bare.cjs'), name: 'bare', outDir: dir, arches: [arch] });
      const bundle = join(process.env.ASPIRE_BUILD_DIR, 'basic-agent.cjs');
      for (const [variant, codeCache] of [
        ['', false],
        [' with code cache', true],
      ]) {
        const out = join(dir, codeCache ? 'cc' : 'plain');
        buildSea({ bundle, name: 'BasicAgent', outDir: out, arches: [arch], codeCache });
        const seaCtl = join(out, arch, 'BasicAgentCtl');
        symlinkSync('BasicAgent', seaCtl);
        table(
          `single executables (${arch})${variant}, ${runs} runs each, interleaved with a bare SEA printing a word`,
          `single executable${variant}`,
          { cmd: bare.path, args: [] },
          ['--version', 'kernel', 'cpu'].map((c) => [c, { cmd: seaCtl, args: [] }]),
          `node_modules/.bin/node bench/basic-ctl.mjs --sea --runs ${runs}`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
} finally {
  cleanup();
}

/** The bare SEA's program, alone in its directory (a bundle's chunks are picked up beside it). */
function mkdirBare(dir) {
  mkdirSync(join(dir, 'bare'));
  writeFileSync(join(dir, 'bare', 'bare.cjs'), "console.log('hello');\n");
}
