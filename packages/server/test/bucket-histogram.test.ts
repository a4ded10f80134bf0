// BucketHistogram against prom-client's own Histogram: the same observations must print the same
// exposition text and the same JSON, with and without a label.
import { describe, expect, it } from 'vitest';
import { Histogram, Registry } from 'prom-client';
import { BucketHistogram } from '../src/metrics/bucket-histogram.ts';

const BOUNDS = [0.001, 0.01, 0.1, 1];
// On a bound, between bounds, above the last one, zero.
const SAMPLES: [string, number][] = [
  ['ingestStatus', 0.001],
  ['ingestStatus', 0.0005],
  ['credentialHash', 0.05],
  ['ingestStatus', 3],
  ['credentialHash', 0],
  ['tick', 0.1],
];

function pair(label: string | undefined) {
  const theirs = new Registry();
  const ours = new Registry();
  const reference = new Histogram({
    name: 'x_seconds',
    help: 'help text',
    buckets: BOUNDS,
    labelNames: label === undefined ? [] : [label],
    registers: [theirs],
  });
  const histogram = new BucketHistogram('x_seconds', 'help text', BOUNDS, label, [ours]);
  return { theirs, ours, reference, histogram };
}

describe('BucketHistogram', () => {
  it('prints what prom-client prints for a labelled histogram', async () => {
    const { theirs, ours, reference, histogram } = pair('operation');
    expect(await ours.metrics()).toBe(await theirs.metrics()); // no series yet
    for (const [operation, s] of SAMPLES) {
      reference.observe({ operation }, s);
      histogram.observe(operation, s);
    }
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('x_seconds_bucket{le="0.001",operation="ingestStatus"} 2');
    expect(text).toContain('x_seconds_count{operation="ingestStatus"} 3');
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('prints what prom-client prints without a label, zeros before the first observation', async () => {
    const { theirs, ours, reference, histogram } = pair(undefined);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    for (const [, s] of SAMPLES) {
      reference.observe(s);
      histogram.observe('', s);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('refuses a duration that is not a finite number, as prom-client does', () => {
    const { reference, histogram } = pair(undefined);
    expect(() => reference.observe(Number.NaN)).toThrow(TypeError);
    expect(() => histogram.observe('', Number.NaN)).toThrow(TypeError);
  });
});
