#!/usr/bin/env node
// Benchmark (not a test): the idle-memory soak. An idle `boot` (the built bundle on the pinned
// Node, with the daemons' V8 flags as the tests launch it) pushes status to the real aspire
// server at step 1 s for an hour; its RSS is sampled every minute beside a bare
// `node -e "setInterval(()=>{},1e9)"` started in the same run (A then B at every sample). Prints
// every sample, the growth per hour after the warm-up (least squares over the samples after it),
// the max ratio boot / bare over all samples, and BENCH_RESULT lines.
//
//   node_modules/.bin/node bench/boot-soak.mjs [--duration 3600] [--sample 60] [--warmup 600] [--step 1]
//   env ASPIRE_SOAK_DURATION / ASPIRE_SOAK_SAMPLE / ASPIRE_SOAK_WARMUP shorten it the same way;
//   ASPIRE_DAEMON_V8_FLAGS replaces boot's V8 flags (space-separated, empty for none).
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { setup } from './basic-helpers.mjs';
import { benchResult } from './bench-result.mjs';
import { sampleProc } from './boot-meter.mjs';

const env = process.env;
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: env.ASPIRE_SOAK_DURATION ?? '3600' },
    sample: { type: 'string', default: env.ASPIRE_SOAK_SAMPLE ?? '60' },
    warmup: { type: 'string', default: env.ASPIRE_SOAK_WARMUP ?? '600' },
    step: { type: 'string', default: '1' },
  },
});
const durationSec = Number(values.duration);
const sampleSec = Number(values.sample);
const warmupSec = Number(values.warmup);
const step = Number(values.step);
if (!(durationSec > 0) || !(sampleSec >= 1) || !(warmupSec >= 0) || warmupSec >= durationSec || !(step >= 1)) {
  console.error('usage: boot-soak.mjs [--duration SEC>0] [--sample SEC>=1] [--warmup SEC<duration] [--step SEC>=1]');
  process.exit(2);
}

const { helpers, cleanup } = await setup();
const srv = await helpers.startAspire();
const boot = await helpers.startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step });
const bare = spawn(process.execPath, ['-e', 'setInterval(()=>{},1e9)'], { stdio: 'ignore' });
const mb = (kb) => kb / 1024;

/** Least-squares slope of y over x. */
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den > 0 ? num / den : 0;
}

try {
  const t0 = Date.now();
  while (!boot.readMeta()?.trusted) {
    if (Date.now() - t0 > 30_000) throw new Error('boot did not register within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const flags = helpers.daemonV8Flags().join(' ') || '(none)';
  console.log(
    `boot soak: ${durationSec} s, step ${step} s, a sample every ${sampleSec} s, warm-up ${warmupSec} s, node ${process.version}, boot V8 flags ${flags}`,
  );
  console.log('   t s   boot MB   bare MB   ratio');
  const samples = [];
  const start = Date.now();
  for (;;) {
    const t = (Date.now() - start) / 1000;
    const a = sampleProc(boot.child.pid);
    const b = sampleProc(bare.pid);
    if (!a) throw new Error('boot exited during the soak');
    if (!b) throw new Error('the bare node exited during the soak');
    samples.push({ t, boot: mb(a.rssKb), bare: mb(b.rssKb) });
    const s = samples.at(-1);
    console.log(
      `${t.toFixed(0).padStart(6)}  ${s.boot.toFixed(1).padStart(8)}  ${s.bare.toFixed(1).padStart(8)}  ${(s.boot / s.bare).toFixed(2).padStart(6)}`,
    );
    // The last sample at the end of the duration, not a second one a moment later.
    if (t >= durationSec - 0.5) break;
    await new Promise((r) => setTimeout(r, Math.min(sampleSec, durationSec - t) * 1000));
  }
  const after = samples.filter((s) => s.t >= warmupSec);
  const growthPerHour =
    after.length >= 2
      ? slope(
          after.map((s) => s.t / 3600),
          after.map((s) => s.boot),
        )
      : 0;
  const ratios = samples.map((s) => s.boot / s.bare);
  const maxRatio = Math.max(...ratios);
  const peak = Math.max(...samples.map((s) => s.boot));
  const bareMedian = [...samples.map((s) => s.bare)].sort((x, y) => x - y)[Math.floor((samples.length - 1) / 2)];
  const j = boot.readJournal();
  console.log(
    `boot RSS ${samples[0].boot.toFixed(1)} -> ${samples.at(-1).boot.toFixed(1)} MB (peak ${peak.toFixed(1)}, min ${Math.min(...samples.map((s) => s.boot)).toFixed(1)}); bare node median ${bareMedian.toFixed(1)} MB`,
  );
  console.log(
    `growth after the warm-up: ${growthPerHour >= 0 ? '+' : ''}${growthPerHour.toFixed(2)} MB/h over ${after.length} samples; max ratio boot/bare ${maxRatio.toFixed(2)}x; journal: ${j?.jobs.length ?? 0} pending results, ${j?.events.length ?? 0} queued events`,
  );
  const command = `node_modules/.bin/node bench/boot-soak.mjs --duration ${durationSec} --sample ${sampleSec}`;
  benchResult({
    metric: `boot RSS, idle soak ${Math.round(durationSec / 60)} min at step ${step} s, max ratio to bare node`,
    figure: peak,
    unit: 'MB',
    baseline: bareMedian,
    ratio: maxRatio,
    target: '<= 1.2x at every sample',
    command,
  });
  benchResult({
    metric: 'boot RSS growth after warm-up, idle soak',
    figure: growthPerHour,
    unit: 'MB/h',
    baseline: null,
    ratio: null,
    target: 'flat',
    command,
  });
} finally {
  bare.kill('SIGKILL');
  await boot.stop();
  boot.cleanup();
  await srv.stop();
  cleanup();
}
