#!/usr/bin/env node
// Benchmark (not a test): an idle `boot` (the built bundle on the pinned Node) pushing status to
// the real aspire server, step 5 s, for 60 s by default, measured beside a bare
// `node -e "setInterval(()=>{},1e9)"` started in the same run on the same runtime. Prints RSS and
// CPU of both and the ratios boot / baseline.
//
//   npx node bench/boot-idle.mjs [--duration 60] [--step 5] [--sample-ms 1000]
//   (the pinned node; builds the bundles into a temp dir unless ASPIRE_BUILD_DIR is set)
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { setup } from './basic-helpers.mjs';
import { ProcMeter } from './boot-meter.mjs';

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

// Bundles into a temp dir (unless given) and the TypeScript test helpers through esbuild.
const { helpers, cleanup } = await setup();
const { startAspire, startBoot } = helpers;

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
  const meters = [new ProcMeter('boot', boot.child.pid), new ProcMeter('baseline node', baseline.pid)];
  const end = Date.now() + durationSec * 1000;
  for (const m of meters) m.tick();
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, sampleMs));
    for (const m of meters) m.tick();
  }
  const j = boot.readJournal();
  const [b, base] = meters.map((m) => m.summary());
  const fmt = (n, d = 1) => n.toFixed(d);
  console.log(
    `boot idle benchmark: ${durationSec} s, step ${step} s, node ${process.version}, ~${Math.round(durationSec / step)} pushes; journal after the run: ${j?.jobs.length ?? 0} pending results, ${j?.events.length ?? 0} queued events`,
  );
  console.log('process         rss avg MB  rss max MB  cpu s (window)  cpu %   cpu s (since start)');
  for (const r of [b, base]) {
    console.log(
      `${r.name.padEnd(15)} ${fmt(r.rssAvgMb).padStart(10)}  ${fmt(r.rssMaxMb).padStart(10)}  ${fmt(r.cpuSec, 2).padStart(14)}  ${fmt(r.cpuPct, 2).padStart(5)}  ${fmt(r.cpuTotalSec, 2).padStart(19)}`,
    );
  }
  // /proc counts CPU in 10 ms ticks: an idle baseline often shows 0 over the window.
  const ratio = (x, y) => (y > 0 ? `${(x / y).toFixed(2)}x` : `n/a (baseline below the 10 ms tick)`);
  console.log(
    `ratio boot/baseline: rss avg ${ratio(b.rssAvgMb, base.rssAvgMb)}, rss max ${ratio(b.rssMaxMb, base.rssMaxMb)}, ` +
      `cpu over the window ${ratio(b.cpuSec, base.cpuSec)}, cpu since start ${ratio(b.cpuTotalSec, base.cpuTotalSec)}`,
  );
} finally {
  baseline.kill('SIGKILL');
  await boot.stop();
  boot.cleanup();
  await srv.stop();
  cleanup();
}
