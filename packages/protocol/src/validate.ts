import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/**
 * A compiled validator for one wire schema. Compiled once at module load: validation sits on
 * the hot path of every status push and every channel frame.
 */
export interface Validator<T> {
  check(value: unknown): value is T;
  validate(value: unknown): Validation<T>;
  readonly schema: TSchema;
}

export function validator<S extends TSchema>(schema: S): Validator<Static<S>> {
  const compiled = TypeCompiler.Compile(schema);
  return {
    schema,
    check: (value: unknown): value is Static<S> => compiled.Check(value),
    validate(value: unknown): Validation<Static<S>> {
      if (compiled.Check(value)) return { ok: true, value };
      const errors: string[] = [];
      for (const e of compiled.Errors(value)) {
        errors.push(`${e.path || '/'}: ${e.message}`);
        if (errors.length >= 10) break;
      }
      return { ok: false, errors };
    },
  };
}

/** Parse JSON text without throwing: malformed input is data, not an exception. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: `malformed JSON: ${(err as Error).message}` };
  }
}
