#!/usr/bin/env node
// Run every benchmark in turn and print their figures (`npm run bench`). Each benchmark measures
// its own baseline in the same run; this only sequences them, one at a time, so they never
// compete for the machine's two cores. `--quick` shortens the long-running ones.
//
//   npm run bench [-- --quick] [-- --only boot-idle,server-status]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1]?.split(',') : undefined;

const BENCHES = [
  { name: 'boot-idle', args: quick ? ['--duration', '15'] : [] },
  { name: 'supervise-100', args: quick ? ['--duration', '15'] : [] },
  { name: 'server-status', args: quick ? ['--seconds', '3'] : [] },
  { name: 'basic-ctl', args: quick ? ['--runs', '5'] : [] },
  { name: 'basic-channel', args: [] },
  // Needs dist/ from scripts/package.sh; skipped with a note when it is not there.
  { name: 'binaries', args: [], needs: join(here, '..', 'dist') },
];

let failed = 0;
for (const b of BENCHES) {
  if (only && !only.includes(b.name)) continue;
  console.log(`\n=== bench/${b.name}.mjs ${b.args.join(' ')}`);
  if (b.needs && !existsSync(b.needs)) {
    console.log(`skipped: ${b.needs} does not exist (run scripts/package.sh first)`);
    continue;
  }
  const r = spawnSync(process.execPath, [join(here, `${b.name}.mjs`), ...b.args], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`bench/${b.name}.mjs exited ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
