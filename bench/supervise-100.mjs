#!/usr/bin/env node
// Benchmark (not a test): a real `boot` (built bundle, pinned Node) supervising N idle
// sub-agents (default 100, each `sleep infinity` with its own run spec, started and then
// watched by the BootAgent), beside the same BootAgent supervising none, both against the real
// aspire server, started together in the same run and measured over the same window. Prints
// the BootAgent's RSS and CPU for both and the difference.
//
//   npx node bench/supervise-100.mjs [--duration 60] [--agents 100] [--check-interval 60] [--step 5]
//   (the product defaults: 60 s check interval; pass e.g. --check-interval 1 for a harsher load)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setup } from './basic-helpers.mjs';
import { ProcMeter } from './boot-meter.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    agents: { type: 'string', default: '100' },
    'check-interval': { type: 'string', default: '60' },
    step: { type: 'string', default: '5' },
    'sample-ms': { type: 'string', default: '1000' },
  },
});
const durationSec = Number(values.duration);
const count = Number(values.agents);
const checkIntervalSec = Number(values['check-interval']);
const step = Number(values.step);
const sampleMs = Number(values['sample-ms']);
if (
  !(durationSec > 0) ||
  !(count >= 1 && count <= 256) ||
  !(checkIntervalSec >= 0.05) ||
  !(step >= 1) ||
  !(sampleMs >= 100)
) {
  console.error(
    'usage: supervise-100.mjs [--duration SEC>0] [--agents 1..256] [--check-interval SEC>=0.05] [--step SEC>=1] [--sample-ms MS>=100]',
  );
  process.exit(2);
}

// Bundles + test helpers (startAspire, startBoot) as the other benches load them; /proc meter shared too.
const { helpers, cleanup } = await setup();
const { startAspire, startBoot } = helpers;

/** Pre-seed a boot state dir with N installed sub-agents that should run (as an install job leaves them). */
function seedAgents(stateDir, n) {
  for (let i = 0; i < n; i++) {
    const name = `idle${String(i).padStart(3, '0')}`;
    const root = join(stateDir, 'agents', name);
    mkdirSync(join(root, 'versions', '1.0.0'), { recursive: true });
    writeFileSync(
      join(root, 'versions', '1.0.0', 'agent.json'),
      JSON.stringify({
        name,
        version: '1.0.0',
        start: ['/bin/sleep', 'infinity'],
        stop: 'kill:SIGTERM',
        stop_timeout: 2,
      }),
    );
    writeFileSync(
      join(root, 'state.json'),
      JSON.stringify({
        name,
        current: '1.0.0',
        kind: 'tar',
        desired: 'running',
        fatal: false,
        killed: false,
        strikes: 0,
        lastStartAt: 0,
        envs: {},
      }),
    );
  }
}
function agentPids(stateDir, n) {
  const pids = [];
  for (let i = 0; i < n; i++) {
    try {
      const s = JSON.parse(
        readFileSync(join(stateDir, 'agents', `idle${String(i).padStart(3, '0')}`, 'state.json'), 'utf8'),
      );
      if (s.pid) pids.push(s.pid);
    } catch {
      /* not yet */
    }
  }
  return pids;
}

const work = mkdtempSync(join(tmpdir(), 'aspire-bench-sup-'));
const withDir = join(work, 'with');
const noneDir = join(work, 'none');
seedAgents(withDir, count);
mkdirSync(noneDir, { recursive: true });
const config = { supervision: { checkIntervalSec } };
const srv = await startAspire();
const boots = [];
try {
  boots.push(await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step, stateDir: withDir, config }));
  boots.push(await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step, stateDir: noneDir, config }));
  const [withAgents, none] = boots;
  const t0 = Date.now();
  while (agentPids(withDir, count).length < count || !withAgents.readMeta()?.trusted || !none.readMeta()?.trusted) {
    if (Date.now() - t0 > 60_000)
      throw new Error(`only ${agentPids(withDir, count).length}/${count} sub-agents started within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const startupSec = (Date.now() - t0) / 1000;
  const meters = [
    new ProcMeter(`boot + ${count} agents`, withAgents.child.pid),
    new ProcMeter('boot, no agents', none.child.pid),
  ];
  const end = Date.now() + durationSec * 1000;
  for (const m of meters) m.tick();
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, sampleMs));
    for (const m of meters) m.tick();
  }
  const alive = agentPids(withDir, count).filter((p) => {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  }).length;
  const [a, b] = meters.map((m) => m.summary());
  const fmt = (n, d = 1) => n.toFixed(d);
  console.log(
    `supervise benchmark: ${count} idle sub-agents (sleep infinity), ${durationSec} s window, check interval ${checkIntervalSec} s, step ${step} s, node ${process.version}`,
  );
  console.log(
    `all ${count} started and registered in ${fmt(startupSec)} s; ${alive}/${count} still running at the end`,
  );
  console.log('process              rss avg MB  rss max MB  cpu s   cpu %');
  for (const r of [a, b])
    console.log(
      `${r.name.padEnd(20)} ${fmt(r.rssAvgMb).padStart(10)}  ${fmt(r.rssMaxMb).padStart(10)}  ${fmt(r.cpuSec, 2).padStart(6)}  ${fmt(r.cpuPct, 2).padStart(6)}`,
    );
  console.log(
    `difference (cost of supervising ${count}): rss avg +${fmt(a.rssAvgMb - b.rssAvgMb)} MB, cpu +${fmt(a.cpuSec - b.cpuSec, 2)} s (${fmt(a.cpuPct - b.cpuPct, 2)} percentage points of one CPU)`,
  );
} finally {
  // Sub-agents outlive boot by design: kill them (each leads its own process group).
  for (const pid of agentPids(withDir, count))
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  for (const b of boots) {
    await b.stop();
    b.cleanup();
  }
  for (const pid of agentPids(withDir, count))
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  await srv.stop();
  rmSync(work, { recursive: true, force: true });
  cleanup();
}
