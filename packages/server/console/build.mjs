// Build the web console (Preact, TSX) into three strings: index.html, app.js, app.css.
// scripts/build.mjs calls this before bundling the server and hands the strings to the server
// bundle through a virtual module, so the single executable carries the console: nothing is
// read from disk or fetched from a CDN at run time.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** @returns {Promise<{html: string, js: string, css: string, etag: string}>} */
export async function buildConsoleAssets() {
  const result = await build({
    entryPoints: { app: join(here, 'src/main.tsx') },
    bundle: true,
    write: false,
    outdir: join(here, 'out'),
    format: 'iife',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    absWorkingDir: join(here, '../../..'),
    loader: { '.css': 'css' },
  });
  let js = '';
  let css = '';
  for (const f of result.outputFiles) {
    if (f.path.endsWith('.js')) js = f.text;
    else if (f.path.endsWith('.css')) css = f.text;
  }
  if (!js) throw new Error('console build produced no JavaScript');
  const etag = createHash('sha256').update(js).update('\0').update(css).digest('hex').slice(0, 16);
  const html = readFileSync(join(here, 'index.html'), 'utf8').replaceAll('{{etag}}', etag);
  return { html, js, css, etag };
}

/**
 * esbuild plugin for the server bundle: replaces packages/server/src/console/assets.ts (a stub
 * that says "not built", used when the server runs from source) with the built strings.
 */
export function consoleAssetsPlugin(assets) {
  return {
    name: 'aspire-console-assets',
    setup(b) {
      b.onLoad({ filter: /[\\/]packages[\\/]server[\\/]src[\\/]console[\\/]assets\.ts$/ }, () => ({
        contents: `export const CONSOLE_ASSETS = ${JSON.stringify(assets)};`,
        loader: 'ts',
      }));
    },
  };
}
