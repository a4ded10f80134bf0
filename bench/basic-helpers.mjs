// Shared set-up of the BasicAgent benchmarks: build the bundles into a temp dir (unless given)
// and load the TypeScript test helpers through esbuild, as bench/boot-idle.mjs does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { buildAll } from '../scripts/build.mjs';

export async function setup() {
  const dirs = [];
  if (!process.env.ASPIRE_BUILD_DIR && !process.env.ASPIRE_BIN_DIR) {
    const buildDir = mkdtempSync(join(tmpdir(), 'aspire-bench-build-'));
    dirs.push(buildDir);
    await buildAll({ outdir: buildDir });
    process.env.ASPIRE_BUILD_DIR = buildDir;
  }
  const helpersDir = mkdtempSync(join(tmpdir(), 'aspire-bench-helpers-'));
  dirs.push(helpersDir);
  const helpersFile = join(helpersDir, 'testing.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('../packages/testing/src/index.ts', import.meta.url))],
    outfile: helpersFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  const helpers = await import(pathToFileURL(helpersFile).href);
  return {
    helpers,
    cleanup: () => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

export function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, min: s[0], median: q(0.5), p90: q(0.9), max: s[s.length - 1] };
}

export const fmt = (ms) => `${ms.toFixed(1)} ms`;
