#!/usr/bin/env node
// Benchmark (not a test): the aspire server's memory under a steady status load, then idle. Two
// servers run side by side under the same load, each with its own SQLite store of --hosts seeded
// hosts and its own generator (bench/status-load.mjs, paced to --rate pushes/s): A with no V8
// flags, B with the server's shipped flags (scripts/server-v8-flags.json) or --flags. RSS of both is
// sampled every --sample seconds for --duration seconds of load and --idle seconds after it.
// Prints the samples, the RSS after the warm-up, the peak and the last idle sample, the bound
// (peak / after warm-up; the target is <= 2x) and BENCH_RESULT lines.
//
//   npx node bench/server-soak.mjs [--duration 600] [--sample 10] [--warmup 60] [--idle 60]
//        [--rate 1500] [--hosts 10000] [--flags "--max-semi-space-size=4"]
//   env ASPIRE_SERVER_SOAK_DURATION / _SAMPLE / _WARMUP / _IDLE shorten it the same way.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchResult } from './bench-result.mjs';
import { setup } from './basic-helpers.mjs';
import { sampleProc } from './boot-meter.mjs';
import { BENCH_SERVER_CONFIG, ingestHost, machineLine, seedSqlite } from './lib/scale-setup.mjs';

const env = process.env;
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: env.ASPIRE_SERVER_SOAK_DURATION ?? '600' },
    sample: { type: 'string', default: env.ASPIRE_SERVER_SOAK_SAMPLE ?? '10' },
    warmup: { type: 'string', default: env.ASPIRE_SERVER_SOAK_WARMUP ?? '60' },
    idle: { type: 'string', default: env.ASPIRE_SERVER_SOAK_IDLE ?? '60' },
    rate: { type: 'string', default: '1500' },
    hosts: { type: 'string', default: '10000' },
    flags: { type: 'string' },
  },
});
const duration = Number(values.duration);
const sampleSec = Number(values.sample);
const warmup = Number(values.warmup);
const idle = Number(values.idle);
const rate = Number(values.rate);
const hosts = Number(values.hosts);
if (
  !(duration > 0) ||
  !(sampleSec >= 1) ||
  !(warmup >= 0 && warmup < duration) ||
  !(idle >= 0) ||
  !(rate > 0) ||
  !(hosts >= 1)
) {
  console.error(
    'usage: server-soak.mjs [--duration S] [--sample S] [--warmup S<duration] [--idle S] [--rate R] [--hosts N]',
  );
  process.exit(2);
}
const command = `npx node bench/server-soak.mjs --duration ${duration} --sample ${sampleSec} --warmup ${warmup} --idle ${idle} --rate ${rate} --hosts ${hosts}`;
const mib = (kb) => kb / 1024;
const settle = (ms) => new Promise((r) => setTimeout(r, ms));

const { helpers, cleanup } = await setup();
const work = mkdtempSync(join(tmpdir(), 'aspire-bench-soak-'));
const shipped = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'scripts', 'server-v8-flags.json'), 'utf8'));
const flagsB = values.flags ?? shipped.flags.join(' ');
const variants = [
  { name: 'no V8 flags', flags: '' },
  { name: flagsB || 'no V8 flags (B)', flags: flagsB },
];

/** A server on its own data dir with `hosts` seeded, started with the variant's V8 flags. */
async function startServer(v, i) {
  const dataDir = join(work, `data-${i}`);
  mkdirSync(dataDir);
  // Read by the helpers' launcher (packages/testing binaries.ts) when it builds the command line.
  process.env.ASPIRE_SERVER_V8_FLAGS = v.flags;
  await (await helpers.startAspire({ dataDir, config: BENCH_SERVER_CONFIG })).stop();
  seedSqlite(join(dataDir, 'aspire.db'), 0, hosts, ingestHost);
  return helpers.startAspire({ dataDir, config: BENCH_SERVER_CONFIG });
}

/** The paced generator against one server for the whole load phase. */
function generate(url) {
  const args = [join(import.meta.dirname, 'status-load.mjs'), '--url', url, '--hosts', String(hosts)];
  args.push('--agents', String(hosts), '--seconds', String(duration), '--rate', String(rate), '--connections', '32');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').pop()))
        : reject(new Error(`status-load.mjs exited ${code}`)),
    ),
  );
}

const servers = [];
try {
  for (const [i, v] of variants.entries()) servers.push({ ...v, srv: await startServer(v, i), samples: [] });
  console.log(`${machineLine()}`);
  console.log(
    `load: ${rate} pushes/s to each server over ${hosts} hosts for ${duration} s, then ${idle} s idle; RSS every ${sampleSec} s`,
  );
  const t0 = performance.now();
  const loads = servers.map((s) => generate(s.srv.url));
  const end = duration + idle;
  for (let t = 0; t <= end; t += sampleSec) {
    await settle(Math.max(0, t0 + t * 1000 - performance.now()));
    const row = servers.map((s) => {
      const kb = sampleProc(s.srv.child.proc.pid)?.rssKb ?? 0;
      s.samples.push({ t, kb });
      return `${mib(kb).toFixed(1).padStart(7)} MiB`;
    });
    console.log(`  t=${String(t).padStart(5)} s ${t > duration ? 'idle' : 'load'}  ${row.join('  ')}`);
  }
  const gens = await Promise.all(loads);
  for (const [i, s] of servers.entries()) {
    const g = gens[i];
    const load = s.samples.filter((x) => x.t <= duration);
    const warm = load.find((x) => x.t >= warmup) ?? load[load.length - 1];
    const peak = Math.max(...load.filter((x) => x.t >= warmup).map((x) => x.kb));
    const last = s.samples[s.samples.length - 1];
    s.bound = peak / warm.kb;
    console.log(
      `  ${s.name.padEnd(28)} after warm-up ${mib(warm.kb).toFixed(1)} MiB, peak ${mib(peak).toFixed(1)} MiB (${s.bound.toFixed(2)}x), idle at the end ${mib(last.kb).toFixed(1)} MiB;` +
        ` ${g.rate.toFixed(0)} pushes/s served, p99 ${g.p99.toFixed(1)} ms, ${g.errors} non-200`,
    );
    benchResult({
      metric: `server RSS under ${rate} pushes/s for ${duration} s, ${s.name} (peak / after warm-up)`,
      figure: mib(peak),
      unit: 'MiB',
      baseline: mib(warm.kb),
      ratio: s.bound,
      target: '<= 2x',
      command,
    });
  }
} finally {
  for (const s of servers) await s.srv.stop().catch((e) => console.error(`stop: ${e.message}`));
  cleanup();
  rmSync(work, { recursive: true, force: true });
}
