// Once per vitest run:
// - a run-scoped temp root: TMPDIR points into it, so every mkdtemp of every suite (and of the
//   real processes they start) lands there, and the run removes it at the end instead of leaving
//   hundreds of directories in /tmp on a machine that runs the suite again and again;
// - the bundles: integration tests run the real binaries' code (build/*.cjs) in real child
//   processes, not the sources through a loader. Built into the run's own directory so concurrent
//   runs never read a half-written bundle.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain ESM script without types
import { buildAll } from '../scripts/build.mjs';

export default async function setup(): Promise<() => void> {
  const runRoot = mkdtempSync(join(tmpdir(), 'aspire-test-'));
  // Traversable by other users: tests run commands and sub-agents as `nobody` on files below.
  chmodSync(runRoot, 0o755);
  process.env.TMPDIR = runRoot;
  if (!process.env.ASPIRE_BIN_DIR && !process.env.ASPIRE_BUILD_DIR) {
    const outdir = join(runRoot, 'build');
    await buildAll({ outdir });
    process.env.ASPIRE_BUILD_DIR = outdir;
  }
  return () => {
    try {
      rmSync(runRoot, { recursive: true, force: true });
    } catch (err) {
      // A mount a suite failed to undo (tmpfs for disk-full tests) must not fail the run.
      console.warn(`could not remove ${runRoot}: ${(err as Error).message}`);
    }
  };
}
