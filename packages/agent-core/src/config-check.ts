/**
 * Config validation helpers: numbers are clamped to named bounds (with the clamp reported),
 * every bad key is collected, and the result is frozen. A module never reads process.env on
 * its own; main.ts loads, checks, freezes, and passes config down.
 */
import { readJsonFile } from './atomic-file.ts';
import { AspireError } from '@aspire/protocol';

export interface Bound {
  min: number;
  max: number;
  default: number;
}

export class ConfigError extends AspireError<'ECONFIG'> {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super('ECONFIG', `invalid config ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export class ConfigChecker {
  readonly problems: string[] = [];
  readonly notes: string[] = [];

  constructor(
    private readonly raw: Record<string, unknown>,
    private readonly known: readonly string[],
  ) {
    for (const key of Object.keys(raw)) {
      if (!known.includes(key)) this.problems.push(`${key}: unknown key`);
    }
  }

  number(key: string, bound: Bound): number {
    const v = this.raw[key];
    if (v === undefined) return bound.default;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.problems.push(`${key}: must be a number, got ${JSON.stringify(v)}`);
      return bound.default;
    }
    if (v < bound.min || v > bound.max) {
      const c = Math.min(bound.max, Math.max(bound.min, v));
      this.notes.push(`${key}: ${v} clamped to ${c} (allowed ${bound.min}..${bound.max})`);
      return c;
    }
    return v;
  }

  string(key: string, def: string, check?: (v: string) => string | undefined): string {
    const v = this.raw[key];
    if (v === undefined) return def;
    if (typeof v !== 'string') {
      this.problems.push(`${key}: must be a string, got ${JSON.stringify(v)}`);
      return def;
    }
    const err = check?.(v);
    if (err) this.problems.push(`${key}: ${err}`);
    return v;
  }

  optionalString(key: string): string | undefined {
    const v = this.raw[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      this.problems.push(`${key}: must be a string, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  boolean(key: string, def: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined) return def;
    if (typeof v !== 'boolean') {
      this.problems.push(`${key}: must be true or false, got ${JSON.stringify(v)}`);
      return def;
    }
    return v;
  }

  /** The unchecked value of a key, for a nested object that has its own checker. */
  rawValue(key: string): unknown {
    return this.raw[key];
  }

  /** Throw listing every problem, or return the frozen value. */
  finish<T extends object>(source: string, value: T): Readonly<T> {
    if (this.problems.length > 0) throw new ConfigError(source, this.problems);
    return deepFreeze(value);
  }
}

export function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

/**
 * Read a JSON config file for a checker: `missing` when it does not exist (the caller decides
 * whether defaults will do), the parsed value otherwise; unreadable or malformed JSON is a
 * ConfigError naming the file.
 */
export function readConfigJson(path: string): { kind: 'missing' } | { kind: 'ok'; raw: unknown } {
  const r = readJsonFile(path);
  if (r.kind === 'missing') return r;
  if (r.kind === 'corrupt')
    throw new ConfigError(path, [r.stage === 'read' ? `cannot read file: ${r.error}` : `malformed JSON: ${r.error}`]);
  return { kind: 'ok', raw: r.value };
}

/**
 * Read a JSON config file that must exist and hold a JSON object: the loaders of files an
 * operator named (-c, --config). A missing or unreadable file, malformed JSON, and any other
 * top-level value are a ConfigError naming the file, worded the same for every binary.
 */
export function readConfigObject(path: string): Record<string, unknown> {
  const file = readConfigJson(path);
  if (file.kind === 'missing') throw new ConfigError(path, ['cannot read file: it does not exist']);
  const raw = file.raw;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(path, ['(top level): must be a JSON object']);
  return raw as Record<string, unknown>;
}
