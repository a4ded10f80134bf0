/**
 * A Prometheus histogram whose observe is a bucket search and a few additions on plain arrays.
 * prom-client's Histogram checks its label object against the label names and hashes it into a
 * key on every observe; the store is timed several times per status push, so that bookkeeping
 * cost more than a quiet push's store call it timed. Here a series is looked up once per label
 * value (a Map of strings) and the exposition shape prom-client's registry prints (the same
 * lines as its own histogram: cumulative `_bucket` with `le`, `+Inf`, `_sum`, `_count`) is made
 * only at scrape.
 */
import type { Metric, Registry } from 'prom-client';

interface Series {
  /** Observations per bucket (not cumulative); the last slot is above every bound (+Inf). */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

type Labels = Record<string, string | number>;
/** One exposition line as prom-client's registry reads it (its typings do not describe this shape). */
interface Value {
  value: number;
  labels: Labels;
  metricName: string;
  sharedLabels?: Labels;
  /** prom-client's bucket lines carry one (null without exemplars); kept so getMetricsAsJSON matches. */
  exemplar?: null;
}
interface Exported {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: Value[];
}

export class BucketHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  /**
   * `label`: the one label's name (its value is given to observe), or undefined for a histogram
   * without labels (exported with zero counts before its first observation, as prom-client does).
   */
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    private readonly label: string | undefined,
    registers: readonly Registry[],
  ) {
    if (label === undefined) this.series.set('', this.fresh());
    // The registry duck-types its metrics (get/getForPromString, name, type, reset).
    for (const r of registers) r.registerMetric(this as unknown as Metric);
  }

  /** Observe `value` (seconds) under the label value `labelValue` ('' without a label). */
  observe(labelValue: string, value: number): void {
    // A NaN or infinite duration is a bug of the caller; prom-client threw on it too.
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: not a finite number: ${value}`);
    let s = this.series.get(labelValue);
    if (s === undefined) {
      s = this.fresh();
      this.series.set(labelValue, s);
    }
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    s.counts[i]! += 1;
    s.sum += value;
    s.count += 1;
  }

  /** Forget every series (prom-client's reset: even an unlabelled one prints nothing until observed). */
  reset(): void {
    this.series.clear();
  }

  /** What prom-client's registry prints: its histogram's values, labels shared per series. */
  async getForPromString(): Promise<Exported> {
    const values: Value[] = [];
    for (const [labelValue, s] of this.series) {
      const shared: Labels = this.label === undefined ? {} : { [this.label]: labelValue };
      let acc = 0;
      for (const [i, le] of this.bounds.entries()) {
        acc += s.counts[i]!;
        values.push({
          labels: { le },
          value: acc,
          metricName: `${this.name}_bucket`,
          sharedLabels: shared,
          exemplar: null,
        });
      }
      values.push(
        {
          labels: { le: '+Inf' },
          value: s.count,
          metricName: `${this.name}_bucket`,
          sharedLabels: shared,
          exemplar: null,
        },
        { labels: {}, value: s.sum, metricName: `${this.name}_sum`, sharedLabels: shared },
        { labels: {}, value: s.count, metricName: `${this.name}_count`, sharedLabels: shared },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The same values with each series' label merged in (getMetricsAsJSON). */
  async get(): Promise<Exported> {
    const data = await this.getForPromString();
    const values = data.values.map(({ sharedLabels, labels, ...rest }) => ({
      ...rest,
      labels: { ...labels, ...sharedLabels },
    }));
    return { ...data, values };
  }

  private fresh(): Series {
    return { counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
  }
}
