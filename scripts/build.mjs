#!/usr/bin/env node
// Bundle each binary into one CommonJS file with esbuild: what the single executables embed.
// No native addons, no files read from disk at run time, pino without transports.
// Env: BOOT_SERVER_ADDR (compiled-in default server list, seed 002 -DBOOT_SERVER_ADDR),
//      ASPIRE_VERSION (version string; default: root package.json version).
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConsoleAssets, consoleAssetsPlugin } from '../packages/server/console/build.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const version = process.env.ASPIRE_VERSION || JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;

export const ENTRIES = [
  { name: 'boot', entry: 'packages/boot-agent/src/main.ts' },
  { name: 'basic-agent', entry: 'packages/basic-agent/src/main.ts' },
  { name: 'aspire', entry: 'packages/server/src/main.ts' },
];

export async function buildAll({ only, outdir = process.env.ASPIRE_BUILD_DIR || join(root, 'build') } = {}) {
  mkdirSync(outdir, { recursive: true });
  const built = [];
  for (const { name, entry } of ENTRIES) {
    if (only && !only.includes(name)) continue;
    const src = join(root, entry);
    if (!existsSync(src)) {
      console.warn(`build: ${entry} does not exist yet, skipped`);
      continue;
    }
    // The web console is built first and compiled into the server bundle (served at /).
    const plugins = name === 'aspire' ? [consoleAssetsPlugin(await buildConsoleAssets())] : [];
    await build({
      entryPoints: [src],
      outfile: join(outdir, `${name}.cjs`),
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'cjs',
      minify: false,
      sourcemap: false,
      legalComments: 'none',
      logLevel: 'warning',
      // Deterministic output: no absolute paths, no timestamps.
      absWorkingDir: root,
      define: {
        __ASPIRE_VERSION__: JSON.stringify(version),
        __BOOT_SERVER_ADDR__: JSON.stringify(process.env.BOOT_SERVER_ADDR ?? ''),
        'import.meta.url': '__aspire_import_meta_url',
      },
      banner: { js: "const __aspire_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
      loader: { '.html': 'text', '.css': 'text', '.sql': 'text' },
      plugins,
    });
    built.push(join(outdir, `${name}.cjs`));
  }
  return built;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const only = process.argv.slice(2);
  const built = await buildAll({ only: only.length ? only : undefined });
  for (const f of built) console.log(`built ${f}`);
}
