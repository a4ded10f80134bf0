/**
 * The docs table of a config schema (config-schema.ts `ConfigDoc`): Markdown rows per key,
 * written into a doc between two marker comments. `scripts/config-docs.mjs` rewrites the docs;
 * each package's config test fails when a doc's table is not what its schema gives (drift).
 */
import { readFileSync } from 'node:fs';
import type { ConfigDoc, KeySpec } from './config-schema.ts';

function defaultText(spec: KeySpec, bare: boolean): string {
  if (spec.docDefault !== undefined) return spec.docDefault;
  switch (spec.type) {
    case 'number':
      return bare ? String(spec.default) : `${spec.default} (${spec.min}..${spec.max})`;
    case 'string':
      return spec.default === '' ? '(empty)' : `\`${spec.default}\``;
    case 'boolean':
      return String(spec.default);
    default:
      return bare ? '' : 'none';
  }
}

function typeText(spec: KeySpec): string {
  if (spec.docType !== undefined) return spec.docType;
  if (spec.type === 'number') return spec.integer ? 'integer' : 'number';
  if (spec.type === 'optional-string') return 'string';
  return spec.type === 'own' ? '' : spec.type;
}

function boundsText(spec: KeySpec): string {
  if (spec.docBounds !== undefined) return spec.docBounds;
  return spec.type === 'number' ? `${spec.min}..${spec.max}` : '';
}

/** The Markdown table of `doc`: `key`, its columns, `meaning`. */
export function configDocTable(doc: ConfigDoc): string {
  const columns = doc.columns ?? ['default'];
  // With a bounds column the default is the bare value; without, the bounds follow it.
  const withBounds = columns.includes('bounds');
  const cell = { type: typeText, bounds: boundsText, default: (s: KeySpec) => defaultText(s, withBounds) };
  const head = ['key', ...columns, 'meaning'];
  const rows = doc.sections.flatMap(({ prefix, schema }) =>
    Object.entries(schema).map(([key, spec]) => [
      `\`${prefix}${key}\``,
      ...columns.map((c) => cell[c](spec)),
      spec.doc.replace(/\|/g, '\\|'),
    ]),
  );
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

const begin = (name: string) => `<!-- config-table ${name} -->`;
const END = '<!-- /config-table -->';

/** The table between the markers of `name` in `doc`, or undefined when the markers are missing. */
export function docTableOf(doc: string, name: string): string | undefined {
  const start = doc.indexOf(begin(name));
  if (start < 0) return undefined;
  const end = doc.indexOf(END, start);
  if (end < 0) return undefined;
  return doc.slice(start + begin(name).length, end).trim();
}

/** `doc` with the table of `name` replaced by `table`; throws when the markers are missing. */
export function withDocTable(doc: string, name: string, table: string): string {
  const start = doc.indexOf(begin(name));
  const end = start < 0 ? -1 : doc.indexOf(END, start);
  if (end < 0) throw new Error(`no ${begin(name)} ... ${END} markers`);
  return `${doc.slice(0, start + begin(name).length)}\n${table}\n${doc.slice(end)}`;
}

/** Undefined when the table in `docPath` is what `schema` gives, else a line saying how to fix it. */
export function docTableDrift(docPath: string, name: string, doc: ConfigDoc): string | undefined {
  const got = docTableOf(readFileSync(docPath, 'utf8'), name);
  if (got === undefined) return `${docPath}: no config-table ${name} markers`;
  return got === configDocTable(doc)
    ? undefined
    : `${docPath}: the ${name} table differs from its schema; run node_modules/.bin/node scripts/config-docs.mjs`;
}
