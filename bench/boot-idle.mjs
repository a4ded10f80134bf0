#!/usr/bin/env node
// Benchmark (not a test): an idle `boot` (the built bundle on the pinned Node) pushing status to
// the real aspire server, step 5 s, for 60 s by default, measured beside a bare
// `node -e "setInterval(()=>{},1e9)"` started in the same run on the same runtime. Prints RSS and
// CPU of both and the ratios boot / baseline.
//
//   npm run build && node bench/boot-idle.mjs [--duration 60] [--step 5]
//   (run it with the pinned node: `npx node bench/boot-idle.mjs`, or through npm scripts)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { buildAll } from '../scripts/build.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    step: { type: 'string', default: '5' },
    'sample-ms': { type: 'string', default: '1000' },
  },
});
const durationSec = Number(values.duration);
const step = Number(values.step);
const sampleMs = Number(values['sample-ms']);
if (!(durationSec > 0) || !(step >= 1) || !(sampleMs >= 100)) {
  console.error('usage: boot-idle.mjs [--duration SEC>0] [--step SEC>=1] [--sample-ms MS>=100]');
  process.exit(2);
}

// Build the bundles into a temp dir unless the caller points at existing ones.
let buildDir = process.env.ASPIRE_BUILD_DIR;
let ownBuild = false;
if (!buildDir && !process.env.ASPIRE_BIN_DIR) {
  buildDir = mkdtempSync(join(tmpdir(), 'aspire-bench-build-'));
  ownBuild = true;
  await buildAll({ outdir: buildDir });
  process.env.ASPIRE_BUILD_DIR = buildDir;
}
// The test helpers (startAspire, startBoot) are TypeScript with parameter properties, which
// Node's type stripping does not run: bundle them once with esbuild into the temp dir.
const helpersDir = mkdtempSync(join(tmpdir(), 'aspire-bench-helpers-'));
const helpersFile = join(helpersDir, 'testing.mjs');
await build({
  entryPoints: [fileURLToPath(new URL('../packages/testing/src/index.ts', import.meta.url))],
  outfile: helpersFile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  logLevel: 'warning',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
const { startAspire, startBoot } = await import(pathToFileURL(helpersFile).href);

const CLK_TCK = 100;
const PAGE_KB = 4;

function sample(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuTicks = Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
    const rssKb = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE_KB;
    return { cpuTicks, rssKb };
  } catch {
    return undefined;
  }
}

class Meter {
  constructor(name, pid) {
    this.name = name;
    this.pid = pid;
    this.rss = [];
    this.first = undefined;
    this.last = undefined;
  }
  tick() {
    const s = sample(this.pid);
    if (!s) return;
    this.first ??= { ...s, at: performance.now() };
    this.last = { ...s, at: performance.now() };
    this.rss.push(s.rssKb);
  }
  summary() {
    const cpuSec = (this.last.cpuTicks - this.first.cpuTicks) / CLK_TCK;
    const wallSec = (this.last.at - this.first.at) / 1000;
    const sorted = [...this.rss].sort((a, b) => a - b);
    return {
      name: this.name,
      rssAvgMb: sorted.reduce((a, b) => a + b, 0) / sorted.length / 1024,
      rssMaxMb: sorted[sorted.length - 1] / 1024,
      cpuSec,
      cpuPct: wallSec > 0 ? (100 * cpuSec) / wallSec : 0,
    };
  }
}

const srv = await startAspire();
const boot = await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step });
const baseline = spawn(process.execPath, ['-e', 'setInterval(()=>{},1e9)'], { stdio: 'ignore' });
try {
  // Measure from the first answered push on, so registration is not in the figures.
  const t0 = Date.now();
  while (!boot.readMeta()?.trusted) {
    if (Date.now() - t0 > 30_000) throw new Error('boot did not register within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const meters = [new Meter('boot', boot.child.pid), new Meter('baseline node', baseline.pid)];
  const end = Date.now() + durationSec * 1000;
  for (const m of meters) m.tick();
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, sampleMs));
    for (const m of meters) m.tick();
  }
  const j = boot.readJournal();
  const [b, base] = meters.map((m) => m.summary());
  const fmt = (n, d = 1) => n.toFixed(d);
  console.log(`boot idle benchmark: ${durationSec} s, step ${step} s, node ${process.version}, ~${Math.round(durationSec / step)} pushes; journal after the run: ${j?.jobs.length ?? 0} pending results, ${j?.events.length ?? 0} queued events`);
  console.log('process         rss avg MB  rss max MB  cpu s   cpu %');
  for (const r of [b, base]) {
    console.log(`${r.name.padEnd(15)} ${fmt(r.rssAvgMb).padStart(10)}  ${fmt(r.rssMaxMb).padStart(10)}  ${fmt(r.cpuSec, 2).padStart(6)}  ${fmt(r.cpuPct, 2).padStart(6)}`);
  }
  const ratio = (x, y) => (y > 0 ? `${(x / y).toFixed(2)}x` : 'n/a (baseline 0)');
  console.log(`ratio boot/baseline: rss avg ${ratio(b.rssAvgMb, base.rssAvgMb)}, rss max ${ratio(b.rssMaxMb, base.rssMaxMb)}, cpu ${ratio(b.cpuSec, base.cpuSec)} (cpu s: ${fmt(b.cpuSec, 2)} vs ${fmt(base.cpuSec, 2)})`);
} finally {
  baseline.kill('SIGKILL');
  await boot.stop();
  boot.cleanup();
  await srv.stop();
  if (ownBuild) rmSync(buildDir, { recursive: true, force: true });
  rmSync(helpersDir, { recursive: true, force: true });
}
