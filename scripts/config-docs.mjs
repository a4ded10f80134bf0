#!/usr/bin/env node
// Rewrite the config tables in the docs from the config schemas (config keys are declared once,
// in each program's schema; agent-core config-schema.ts). Each table sits between
// `<!-- config-table NAME -->` and `<!-- /config-table -->`; each package's config-docs test
// fails when a table drifts from its schema, and this script is the fix.
//
//   node_modules/.bin/node scripts/config-docs.mjs          rewrite the docs
//   node_modules/.bin/node scripts/config-docs.mjs --check  exit 1 naming each table that differs
import { build } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** [doc, table name, module exporting the table's ConfigDoc, its export] */
export const TABLES = [
  ['docs/basic-agent.md', 'basic.json', 'packages/basic-agent/src/config-schema.ts', 'BASIC_CONFIG_DOC'],
  ['docs/boot-agent.md', 'boot.json', 'packages/boot-agent/src/config/boot-config-schema.ts', 'BOOT_CONFIG_DOC'],
  ['docs/server.md', 'server', 'packages/server/src/config-schema.ts', 'SERVER_CONFIG_DOC'],
  ['docs/scale.md', 'cluster', 'packages/server/src/cluster/cluster-config.ts', 'CLUSTER_CONFIG_DOC'],
];

// The schemas are TypeScript: bundle one entry that imports them all with the table renderer.
const entry = [
  `export { configDocTable, withDocTable, docTableOf } from './packages/agent-core/src/config-doc-table.ts';`,
  ...TABLES.map(([, , mod, name], i) => `export { ${name} as s${i} } from './${mod}';`),
].join('\n');
const dir = mkdtempSync(join(tmpdir(), 'config-docs-'));
try {
  const out = join(dir, 'schemas.cjs');
  await build({
    stdin: { contents: entry, resolveDir: root, loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: out,
    logLevel: 'error',
  });
  const m = createRequire(import.meta.url)(out);
  const check = process.argv.includes('--check');
  let drift = 0;
  TABLES.forEach(([doc, table], i) => {
    const path = join(root, doc);
    const text = readFileSync(path, 'utf8');
    const want = m.configDocTable(m[`s${i}`]);
    if (m.docTableOf(text, table) === want) return;
    if (check) {
      drift++;
      process.stderr.write(`${doc}: the ${table} table differs from its schema\n`);
    } else {
      writeFileSync(path, m.withDocTable(text, table, want));
      process.stdout.write(`${doc}: ${table} table rewritten\n`);
    }
  });
  process.exitCode = drift ? 1 : 0;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
