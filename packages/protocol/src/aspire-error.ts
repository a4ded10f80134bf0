/**
 * The one base of Aspire's own error classes (as undici's `UndiciError`): every error the code
 * throws on purpose carries a stable `code` a caller tests instead of the class or the message.
 * A number is a unified code of `error-codes.ts` (the value that goes on the wire); a string is
 * an `E...` word listed in docs/errors.md ("Error classes"). `name` stays `Error` so printed
 * messages and stacks read as they did before the base existed.
 */
export class AspireError<C extends string | number = string | number> extends Error {
  readonly code: C;
  constructor(code: C, message?: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** True for any Aspire error, optionally one with the given code. */
export function isAspireError(err: unknown, code?: string | number): err is AspireError {
  return err instanceof AspireError && (code === undefined || err.code === code);
}
