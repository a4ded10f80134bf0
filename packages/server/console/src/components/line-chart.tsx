import { formatClock, formatLocal } from '../lib/time.ts';

export interface Point {
  /** ms since epoch */
  t: number;
  v: number;
}

/**
 * A small inline-SVG line chart (no chart library): time on x, count on y, the latest value
 * labelled. Accessible as an image with a summary; the data is also in a hidden table.
 */
export function LineChart({
  title,
  points,
  width = 1000,
  height = 200,
}: {
  title: string;
  points: Point[];
  width?: number;
  height?: number;
}) {
  const pad = { l: 64, r: 12, t: 12, b: 26 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  if (points.length === 0) {
    return (
      <p class="muted" role="status">
        No samples yet: the server records one per statistics period.
      </p>
    );
  }
  const t0 = points[0]!.t;
  const t1 = points[points.length - 1]!.t;
  const span = Math.max(1, t1 - t0);
  const vmax = Math.max(1, ...points.map((p) => p.v));
  const x = (t: number) => pad.l + (points.length === 1 ? w : ((t - t0) / span) * w);
  const y = (v: number) => pad.t + h - (v / vmax) * h;
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
  const last = points[points.length - 1]!;
  const ticks = [0, Math.round(vmax / 2), vmax].filter((v, i, a) => a.indexOf(v) === i);
  const summary = `${title}: ${last.v} at ${formatLocal(last.t)}, ${points.length} sample${points.length === 1 ? '' : 's'} since ${formatLocal(t0)}`;
  // Past a day, the axis needs the date too.
  const axisTime = (t: number) => (span > 86_400_000 ? formatLocal(t) : formatClock(t));
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={summary} preserveAspectRatio="xMidYMid meet">
        {ticks.map((v) => (
          <g>
            <line x1={pad.l} x2={pad.l + w} y1={y(v)} y2={y(v)} class="grid" />
            <text x={pad.l - 6} y={y(v) + 4} text-anchor="end" class="axis">
              {v.toLocaleString()}
            </text>
          </g>
        ))}
        <text x={pad.l} y={height - 6} class="axis">
          {axisTime(t0)}
        </text>
        <text x={pad.l + w} y={height - 6} text-anchor="end" class="axis">
          {axisTime(t1)}
        </text>
        <path d={`${d} L${x(t1).toFixed(1)},${pad.t + h} L${x(t0).toFixed(1)},${pad.t + h} Z`} class="area" />
        <path d={d} class="line" />
        <circle cx={x(last.t)} cy={y(last.v)} r={3.5} class="dot" />
      </svg>
      <figcaption class="muted">{summary}</figcaption>
    </figure>
  );
}
