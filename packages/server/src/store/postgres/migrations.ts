/**
 * PostgreSQL twins of ../migrations.ts: the same versions and names, each expressed for
 * PostgreSQL (embedded as text like the SQLite ones). Every SQLite migration has one here;
 * the store conformance test checks the two lists match.
 */
import m001 from './migrations/001-init.sql';
import m002 from './migrations/002-task-results.sql';
import m003 from './migrations/003-host-events-dropped.sql';
import m004 from './migrations/004-operator-scopes-audit.sql';
import m005 from './migrations/005-task-engine.sql';
import m006 from './migrations/006-host-certificates.sql';
import m007 from './migrations/007-desired-state.sql';
import type { Migration } from '../migrations.ts';

export const PG_MIGRATIONS: readonly Migration[] = [
  { version: 1, name: '001-init', sql: m001 },
  { version: 2, name: '002-task-results', sql: m002 },
  { version: 3, name: '003-host-events-dropped', sql: m003 },
  { version: 4, name: '004-operator-scopes-audit', sql: m004 },
  { version: 5, name: '005-task-engine', sql: m005 },
  { version: 6, name: '006-host-certificates', sql: m006 },
  { version: 7, name: '007-desired-state', sql: m007 },
];
