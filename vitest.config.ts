import { defineConfig } from 'vitest/config';

// Three layers (see test/README.md): unit tests live beside their package
// (packages/*/test), integration and end-to-end suites under test/.
// The bundles import .sql migrations as text (esbuild's text loader in scripts/build.mjs);
// this does the same for code run from source under vitest.
const sqlAsText = {
  name: 'aspire-sql-as-text',
  transform(code: string, id: string) {
    return id.endsWith('.sql') ? { code: `export default ${JSON.stringify(code)};`, map: null } : undefined;
  },
};

export default defineConfig({
  plugins: [sqlAsText],
  test: {
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['packages/*/test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'] },
      },
      {
        extends: true,
        // End-to-end steps run rpm, rpmlint, qemu and single-executable builds: minutes of CPU each
        // on a loaded 2-core machine, so a step gets three minutes before it counts as hung.
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          maxWorkers: 1,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
