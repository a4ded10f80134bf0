// Build the bundles once before any suite: integration tests run the real binaries' code
// (build/*.cjs) in real child processes, not the sources through a loader. Each vitest run
// builds into its own temp dir so concurrent runs never read a half-written bundle.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain ESM script without types
import { buildAll } from '../scripts/build.mjs';

export default async function setup(): Promise<() => void> {
  if (process.env.ASPIRE_BIN_DIR || process.env.ASPIRE_BUILD_DIR) return () => {};
  const outdir = mkdtempSync(join(tmpdir(), 'aspire-build-'));
  await buildAll({ outdir });
  process.env.ASPIRE_BUILD_DIR = outdir;
  return () => rmSync(outdir, { recursive: true, force: true });
}
