#!/usr/bin/env node
// Benchmark (not a test): the command channel through the real server.
// 1. sync.bash `true` round trips per second through one real BasicAgent (Polaris REST ->
//    hub -> TLS -> agent -> bash -> back), sequential and 8 in flight, beside the REST round
//    trip of GET /polaris/agents (no agent involved) measured in the same run.
// The fan-out to 1,000 and 10,000 channels, with server RSS per channel, is bench/hub-10k.mjs.
//
//   npx node bench/basic-channel.mjs [--seconds 5]
import { parseArgs } from 'node:util';
import { fmt, setup, stats } from './basic-helpers.mjs';
import { benchResult } from './bench-result.mjs';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' } } });
const seconds = Number(values.seconds);
if (!(seconds > 0)) {
  console.error('usage: basic-channel.mjs [--seconds S>0]');
  process.exit(2);
}
const { helpers, cleanup } = await setup();
const ca = helpers.makeTestCa();
const srv = await helpers.startAspire({ hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile } });
const agent = await helpers.startBasicAgent({
  port: srv.hubAddress.port,
  caFile: ca.caCertFile,
  hostname: 'bench-agent',
  config: { concurrency: 16 },
});

async function loop(fn, inflight) {
  const end = performance.now() + seconds * 1000;
  const lat = [];
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await fn();
        lat.push(performance.now() - t0);
      }
    }),
  );
  return { rate: lat.length / seconds, ...stats(lat) };
}

try {
  const rest = await loop(async () => {
    const r = await srv.api('GET', '/api/v1/server/polaris/agents');
    if (r.status !== 200) throw new Error(JSON.stringify(r.body));
  }, 1);
  const bash = (inflight) =>
    loop(async () => {
      const r = await srv.api('POST', '/api/v1/server/polaris', {
        hosts: ['bench-agent'],
        method: 'sync.bash',
        cmd: 'true',
      });
      if (r.body.response?.[0]?.resp !== 'success') throw new Error(JSON.stringify(r.body));
    }, inflight);
  const seq = await bash(1);
  const par = await bash(8);
  console.log(`sync.bash true through one agent, ${seconds} s each`);
  console.log(
    `  REST GET /polaris/agents (baseline)   ${rest.rate.toFixed(0).padStart(6)} /s  median ${fmt(rest.median)}`,
  );
  console.log(
    `  sync.bash, 1 in flight                ${seq.rate.toFixed(0).padStart(6)} /s  median ${fmt(seq.median)}  p90 ${fmt(seq.p90)}`,
  );
  console.log(
    `  sync.bash, 8 in flight                ${par.rate.toFixed(0).padStart(6)} /s  median ${fmt(par.median)}  p90 ${fmt(par.p90)}`,
  );

  const command = `npx node bench/basic-channel.mjs --seconds ${seconds}`;
  for (const [what, r] of [
    ['1 in flight', seq],
    ['8 in flight', par],
  ]) {
    benchResult({
      metric: `sync.bash true through one BasicAgent, ${what} (median round trip)`,
      figure: r.median,
      unit: 'ms',
      baseline: rest.median,
      ratio: r.median / rest.median,
      target: 'report',
      command,
    });
  }
} finally {
  await agent.stop();
  await srv.stop();
  ca.cleanup();
  cleanup();
}
