/**
 * Prometheus text for tests: parsed with parse-prometheus-text-format (prom2json's shape), read
 * back as numbers. A missing family or sample throws, naming what was looked for.
 */
import parsePrometheusTextFormat, { type PromFamily, type PromSample } from 'parse-prometheus-text-format';

export type { PromFamily, PromSample };

export class PromMetrics {
  readonly families: ReadonlyMap<string, PromFamily>;

  constructor(private readonly text: string) {
    this.families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
  }

  family(name: string): PromFamily {
    const f = this.families.get(name);
    if (!f)
      throw new Error(
        `metric ${name} is not in the scrape (${[...this.families.keys()].filter((k) => k.startsWith('aspire_')).join(', ')})`,
      );
    return f;
  }

  /** The sample whose labels include `labels`. */
  sample(name: string, labels: Record<string, string> = {}): PromSample {
    const s = this.family(name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
    if (!s) throw new Error(`metric ${name} has no sample with labels ${JSON.stringify(labels)}`);
    return s;
  }

  /** A counter's or gauge's value. */
  value(name: string, labels: Record<string, string> = {}): number {
    return Number(this.sample(name, labels).value);
  }

  /**
   * A histogram's observation count. The parser folds a histogram into one unlabeled sample (it
   * drops labeled series), so a labeled count is read from its own `NAME_count{...}` line.
   */
  count(name: string, labels: Record<string, string> = {}): number {
    if (Object.keys(labels).length === 0) return Number(this.sample(name).count);
    this.family(name);
    for (const line of this.text.split('\n')) {
      const m = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
      if (!m || m[1] !== `${name}_count`) continue;
      const got = Object.fromEntries([...m[2]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
      if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
    }
    throw new Error(`histogram ${name} has no count with labels ${JSON.stringify(labels)}`);
  }
}
