/**
 * TypeBox as boot's single-executable chunk (scripts/build.mjs `typebox`): every import of
 * `@sinclair/typebox` and `@sinclair/typebox/compiler` in boot's bundle becomes this one module,
 * so there is one TypeBox instance (one format and type registry) however it is imported. Not
 * imported by name anywhere; it exists only as that chunk's entry.
 */
export * from '@sinclair/typebox';
export { TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
