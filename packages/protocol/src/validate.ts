import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/**
 * A compiled validator for one wire schema. Compiled once, at its first use: validation sits on
 * the hot path of every status push and every channel frame, while each program uses only a few
 * of the wire schemas (an idle boot would otherwise hold the compiled code of all of them).
 */
export interface Validator<T> {
  check(value: unknown): value is T;
  validate(value: unknown): Validation<T>;
  readonly schema: TSchema;
}

export function validator<S extends TSchema>(schema: S): Validator<Static<S>> {
  let compiled: TypeCheck<S> | undefined;
  const get = (): TypeCheck<S> => (compiled ??= TypeCompiler.Compile(schema));
  return {
    schema,
    check: (value: unknown): value is Static<S> => get().Check(value),
    validate(value: unknown): Validation<Static<S>> {
      if (get().Check(value)) return { ok: true, value };
      const errors: string[] = [];
      for (const e of get().Errors(value)) {
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
