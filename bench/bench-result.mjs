// The machine-readable last lines of every benchmark: `BENCH_RESULT {json}`, one per metric, which
// bench/run-all.mjs collects into the table of docs/performance.md. Keys: metric, figure, unit,
// baseline (a figure or a description), ratio (figure / baseline, or null), target, command.

/** Print one BENCH_RESULT line; numbers are rounded to what the table shows. */
export function benchResult({ metric, figure, unit, baseline = null, ratio = null, target = null, command }) {
  const round = (x) => (typeof x === 'number' && Number.isFinite(x) ? Number(x.toPrecision(4)) : x);
  const line = {
    metric,
    figure: round(figure),
    unit,
    baseline: round(baseline),
    ratio: round(ratio),
    target,
    command,
  };
  console.log(`BENCH_RESULT ${JSON.stringify(line)}`);
}

/** Median of numbers (the middle one; the lower middle for an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** VmRSS of a process in KiB (Linux /proc). */
export async function rssKiB(pid) {
  const { readFile } = await import('node:fs/promises');
  const m = /^VmRSS:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}
