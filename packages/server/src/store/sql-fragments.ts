/**
 * SQL text that both engines read the same way (SQLite and PostgreSQL): written once here and
 * spliced into the statements of sqlite/ and postgres/. Only fixed words go in, never input.
 */

/** The subtask states nothing moves out of. */
export const FINAL_SQL = `('SUCCESS','FAILED','REVOKED')`;

/** `('A','B')` from fixed state words (constants of the protocol, not input). */
export const inList = (xs: readonly string[]) => `(${xs.map((x) => `'${x}'`).join(',')})`;
