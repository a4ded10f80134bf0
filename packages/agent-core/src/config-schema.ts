/**
 * Config keys declared once: each key's type, default, bounds and doc line live in one schema
 * object per config file, from which the checking (ConfigChecker), the defaults and the docs
 * table (config-doc-table.ts) all come. A key whose value is an object or a list keeps its own
 * check (`own`) but is still declared here, so the unknown-key check and the docs know it.
 */
import type { ConfigChecker } from './config-check.ts';

interface KeyBase {
  /** The docs table's meaning column (Markdown). */
  doc: string;
  /** The docs table's default column when the default is not a literal (`os.hostname()`, "required"). */
  docDefault?: string;
  /** The type column of a full table (`integer s`, `absolute path`); default from `type`. */
  docType?: string;
  /** The bounds column of a full table when it is not `min..max` (`1 KiB..64 GiB`, a rule). */
  docBounds?: string;
}

export interface NumberKey extends KeyBase {
  type: 'number';
  min: number;
  max: number;
  default: number;
  /** Rounded after the clamp (counts, bytes). */
  integer?: boolean;
}

export interface StringKey extends KeyBase {
  type: 'string';
  default: string;
  /** A problem with the value, or undefined when it is good. */
  check?: (v: string) => string | undefined;
}

export interface OptionalStringKey extends KeyBase {
  type: 'optional-string';
  check?: (v: string) => string | undefined;
}

export interface BooleanKey extends KeyBase {
  type: 'boolean';
  default: boolean;
}

/** Checked by the config's own code (objects, lists, cross-key rules). */
export interface OwnKey extends KeyBase {
  type: 'own';
}

export type KeySpec = NumberKey | StringKey | OptionalStringKey | BooleanKey | OwnKey;
export type ConfigSchema = Readonly<Record<string, KeySpec>>;

/**
 * How a config file's docs table is made: its schema, then the schemas of its object keys
 * with their prefix (`supervision.`), as rows of one table, with `key`, the `columns` (default:
 * only `default`) and `meaning`.
 */
export interface ConfigDoc {
  columns?: ReadonlyArray<'type' | 'default' | 'bounds'>;
  sections: ReadonlyArray<{ prefix: string; schema: ConfigSchema }>;
}

type ValueOf<K extends KeySpec> = K extends NumberKey
  ? number
  : K extends StringKey
    ? string
    : K extends OptionalStringKey
      ? string | undefined
      : K extends BooleanKey
        ? boolean
        : never;

/**
 * The checked values of the schema's scalar keys (`own` keys are left to their own check); an
 * optional string that is absent is left out, not set to undefined.
 */
export type SchemaValues<S extends ConfigSchema> = {
  -readonly [K in keyof S as S[K] extends NumberKey | StringKey | BooleanKey ? K : never]: ValueOf<S[K]>;
} & { -readonly [K in keyof S as S[K] extends OptionalStringKey ? K : never]?: string };

/** The log levels every program's `logLevel` takes. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const logLevelKey: StringKey = {
  type: 'string',
  default: 'info',
  check: (v) => ((LOG_LEVELS as readonly string[]).includes(v) ? undefined : `must be one of ${LOG_LEVELS.join(' ')}`),
  doc: LOG_LEVELS.join(' '),
};

export function schemaKeys(schema: ConfigSchema): string[] {
  return Object.keys(schema);
}

/** Check every scalar key of `schema` with `c`; problems and clamps land in `c`. */
export function checkSchema<S extends ConfigSchema>(c: ConfigChecker, schema: S): SchemaValues<S> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    switch (spec.type) {
      case 'number': {
        const v = c.number(key, spec);
        out[key] = spec.integer ? Math.round(v) : v;
        break;
      }
      case 'string':
        out[key] = c.string(key, spec.default, spec.check);
        break;
      case 'optional-string': {
        const v = c.optionalString(key);
        const problem = v === undefined ? undefined : spec.check?.(v);
        if (problem) c.problems.push(`${key}: ${problem}`);
        if (v !== undefined) out[key] = v;
        break;
      }
      case 'boolean':
        out[key] = c.boolean(key, spec.default);
        break;
      case 'own':
        break;
    }
  }
  return out as SchemaValues<S>;
}

/** The numbers of a schema as named bounds, for code that clamps the same values elsewhere. */
export function schemaBounds<S extends ConfigSchema>(
  schema: S,
): { [K in keyof S as S[K] extends NumberKey ? K : never]: { min: number; max: number; default: number } } {
  const out: Record<string, { min: number; max: number; default: number }> = {};
  for (const [key, spec] of Object.entries(schema))
    if (spec.type === 'number') out[key] = { min: spec.min, max: spec.max, default: spec.default };
  return out as never;
}
