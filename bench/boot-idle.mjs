#!/usr/bin/env node
// Benchmark (not a test): an idle `boot` (the built bundle on the pinned Node, with the daemons'
// V8 flags as the tests launch it) pushing status to the real aspire server, step 5 s, for 60 s
// by default, beside a bare `node -e "setInterval(()=>{},1e9)"` started in the same run; both are
// sampled at every tick, one after the other (A B A B). Prints RSS (min, median, max) and CPU of
// both, the ratios boot / baseline and BENCH_RESULT lines.
//
// Beside the bundle also the runtime's floor for what boot does at idle (bench/lib/http-push-floor.cjs:
// the pinned node with boot's V8 flags, node:crypto with one EC key used, a status-sized POST over
// node:http every step to the same server): what is left over it is Aspire's own.
//
// With --sea, the same for the single executable: boot built from the bundle (scripts/sea.mjs,
// this host's arch) beside a bare single executable built with the same runtime and config whose
// program only waits.
//
//   node_modules/.bin/node bench/boot-idle.mjs [--duration 60] [--step 5] [--sample-ms 1000] [--sea]
//   (builds the bundles into a temp dir unless ASPIRE_BUILD_DIR is set; ASPIRE_DAEMON_V8_FLAGS
//   replaces boot's V8 flags, space-separated, empty for none)
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setup, stats } from './basic-helpers.mjs';
import { benchResult } from './bench-result.mjs';
import { ProcMeter } from './boot-meter.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    step: { type: 'string', default: '5' },
    'sample-ms': { type: 'string', default: '1000' },
    sea: { type: 'boolean', default: false },
  },
});
const durationSec = Number(values.duration);
const step = Number(values.step);
const sampleMs = Number(values['sample-ms']);
if (!(durationSec > 0) || !(step >= 1) || !(sampleMs >= 100)) {
  console.error('usage: boot-idle.mjs [--duration SEC>0] [--step SEC>=1] [--sample-ms MS>=100] [--sea]');
  process.exit(2);
}

// Bundles into a temp dir (unless given) and the TypeScript test helpers through esbuild.
const { helpers, cleanup } = await setup();
const dirs = [];
const srv = await helpers.startAspire();
try {
  const floor = {
    cmd: process.execPath,
    args: [...helpers.daemonV8Flags(), join(import.meta.dirname, 'lib', 'http-push-floor.cjs'), srv.url, String(step)],
  };
  await measure(
    'bundle',
    { cmd: process.execPath, args: ['-e', 'setInterval(()=>{},1e9)'] },
    'bare node',
    '<= 1.2x',
    floor,
  );
  if (values.sea) {
    const { buildSea } = await import('../scripts/sea.mjs');
    const arch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch];
    const dir = mkdtempSync(join(tmpdir(), 'aspire-bench-sea-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'bare'));
    writeFileSync(join(dir, 'bare', 'bare.cjs'), 'setInterval(() => {}, 1e9);\n');
    const [bare] = buildSea({ bundle: join(dir, 'bare', 'bare.cjs'), name: 'bare', outDir: dir, arches: [arch] });
    buildSea({ bundle: join(process.env.ASPIRE_BUILD_DIR, 'boot.cjs'), name: 'boot', outDir: dir, arches: [arch] });
    // startBoot runs the single executable found in ASPIRE_BIN_DIR (the server keeps running as it is).
    process.env.ASPIRE_BIN_DIR = join(dir, arch);
    await measure('single executable', { cmd: bare.path, args: [] }, 'bare SEA', '<= 1.1x');
    delete process.env.ASPIRE_BIN_DIR;
  }
} finally {
  await srv.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  cleanup();
}

async function measure(mode, bareCmd, bareName, target, floorCmd) {
  const boot = await helpers.startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step });
  const baseline = spawn(bareCmd.cmd, bareCmd.args, { stdio: 'ignore' });
  const floor = floorCmd ? spawn(floorCmd.cmd, floorCmd.args, { stdio: 'ignore' }) : undefined;
  try {
    // Measure from the first answered push on, so registration is not in the figures.
    const t0 = Date.now();
    while (!boot.readMeta()?.trusted) {
      if (Date.now() - t0 > 30_000) throw new Error('boot did not register within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const meters = [new ProcMeter('boot', boot.child.pid), new ProcMeter(bareName, baseline.pid)];
    if (floor) meters.push(new ProcMeter('http floor', floor.pid));
    const end = Date.now() + durationSec * 1000;
    for (const m of meters) m.tick();
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, sampleMs));
      for (const m of meters) m.tick();
    }
    const j = boot.readJournal();
    const [b, base, fl] = meters.map((m) => ({ ...m.summary(), rss: stats(m.rss.map((kb) => kb / 1024)) }));
    const fmt = (n, d = 1) => n.toFixed(d);
    console.log(
      `boot idle benchmark (${mode}): ${durationSec} s, step ${step} s, node ${process.version}, boot V8 flags ${helpers.daemonV8Flags().join(' ') || '(none)'}, ~${Math.round(durationSec / step)} pushes; journal after the run: ${j?.jobs.length ?? 0} pending results, ${j?.events.length ?? 0} queued events`,
    );
    console.log('process         rss min MB  rss median  rss max MB  cpu s (window)  cpu %   cpu s (since start)');
    for (const r of fl ? [b, base, fl] : [b, base]) {
      console.log(
        `${r.name.padEnd(15)} ${fmt(r.rss.min).padStart(10)}  ${fmt(r.rss.median).padStart(10)}  ${fmt(r.rss.max).padStart(10)}  ${fmt(r.cpuSec, 2).padStart(14)}  ${fmt(r.cpuPct, 2).padStart(5)}  ${fmt(r.cpuTotalSec, 2).padStart(19)}`,
      );
    }
    // /proc counts CPU in 10 ms ticks: an idle baseline often shows 0 over the window.
    const ratio = (x, y) => (y > 0 ? `${(x / y).toFixed(2)}x` : `n/a (baseline below the 10 ms tick)`);
    console.log(
      `ratio boot/${bareName}: rss median ${ratio(b.rss.median, base.rss.median)}, rss max ${ratio(b.rss.max, base.rss.max)}, ` +
        `cpu over the window ${ratio(b.cpuSec, base.cpuSec)}, cpu since start ${ratio(b.cpuTotalSec, base.cpuTotalSec)}`,
    );
    benchResult({
      metric: `boot idle RSS, ${mode}`,
      figure: b.rss.median,
      unit: 'MB',
      baseline: base.rss.median,
      ratio: b.rss.median / base.rss.median,
      target,
      command: `node_modules/.bin/node bench/boot-idle.mjs --duration ${durationSec} --step ${step}${values.sea ? ' --sea' : ''}`,
    });
    if (fl) {
      console.log(
        `ratio boot/http floor: rss median ${ratio(b.rss.median, fl.rss.median)}; the floor over ${bareName}: ${ratio(fl.rss.median, base.rss.median)}`,
      );
      benchResult({
        metric: `boot idle RSS, ${mode}, over the runtime's floor (node:http push + node:crypto, no Aspire code)`,
        figure: b.rss.median,
        unit: 'MB',
        baseline: fl.rss.median,
        ratio: b.rss.median / fl.rss.median,
        target: 'report',
        command: `node_modules/.bin/node bench/boot-idle.mjs --duration ${durationSec} --step ${step}${values.sea ? ' --sea' : ''}`,
      });
    }
  } finally {
    baseline.kill('SIGKILL');
    floor?.kill('SIGKILL');
    await boot.stop();
    boot.cleanup();
  }
}
