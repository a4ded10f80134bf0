#!/usr/bin/env node
// Benchmark (not a test): the command channel through the real server.
// 1. sync.bash `true` round trips per second through one real BasicAgent (Polaris REST ->
//    hub -> TLS -> agent -> bash -> back), sequential and 8 in flight, beside the REST round
//    trip of GET /polaris/agents (no agent involved) measured in the same run.
// 2. Fan-out: 1,000 simulated channel clients (TLS connections from this process that answer
//    sync.bash with a canned reply: the load client, not real agents), one Polaris sync.bash to
//    all of them; time to the full answer, and the server's RSS per connection.
//
//   npx node bench/basic-channel.mjs [--seconds 5] [--clients 1000]
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { parseArgs } from 'node:util';
import { fmt, setup, stats } from './basic-helpers.mjs';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, clients: { type: 'string', default: '1000' } },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);
if (!(seconds > 0) || !(clients >= 1)) {
  console.error('usage: basic-channel.mjs [--seconds S>0] [--clients N>=1]');
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
const rssKb = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${srv.child.pid}/status`, 'utf8'))[1]);

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

  // ---- fan-out to simulated clients ----
  const before = rssKb();
  const sockets = [];
  const t0 = performance.now();
  const port = srv.hubAddress.port;
  for (let i = 0; i < clients; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, clients - i) }, (_, k) => {
        const name = `sim-${i + k}`;
        return new Promise((resolve, reject) => {
          const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.caCert }, () =>
            s.write(`${JSON.stringify({ method: 'init', hostname: name })}\n`),
          );
          let buf = '';
          let accepted = false;
          s.setEncoding('utf8');
          s.on('data', (d) => {
            buf += d;
            for (let n = buf.indexOf('\n'); n >= 0; n = buf.indexOf('\n')) {
              const f = JSON.parse(buf.slice(0, n));
              buf = buf.slice(n + 1);
              if (f.method === 'accept' && !accepted) {
                accepted = true;
                resolve();
              } else if (f.method === 'sync.bash') {
                s.write(
                  `${JSON.stringify({ id: f.id, resp: 'success', retcode: 0, message: 'Normal termination', data: '' })}\n`,
                );
              }
            }
          });
          s.on('error', reject);
          sockets.push(s);
        });
      }),
    );
  }
  const connectMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 500));
  const after = rssKb();
  const hosts = Array.from({ length: clients }, (_, i) => `sim-${i}`);
  const fan = [];
  for (let i = 0; i < 5; i++) {
    const t1 = performance.now();
    const r = await srv.api('POST', '/api/v1/server/polaris', { hosts, method: 'sync.bash', cmd: 'true' });
    fan.push(performance.now() - t1);
    const ok = r.body.response.filter((e) => e.resp === 'success').length;
    if (ok !== clients) throw new Error(`fan-out: ${ok}/${clients} answered`);
  }
  const one = [];
  for (let i = 0; i < 5; i++) {
    const t1 = performance.now();
    await srv.api('POST', '/api/v1/server/polaris', { hosts: ['sim-0'], method: 'sync.bash', cmd: 'true' });
    one.push(performance.now() - t1);
  }
  const f = stats(fan);
  console.log(`fan-out to ${clients} simulated channel clients on loopback`);
  console.log(`  connect + TLS + init/accept of all     ${fmt(connectMs)}`);
  console.log(`  one simulated host (baseline)          median ${fmt(stats(one).median)}`);
  console.log(
    `  all ${String(clients).padEnd(5)} hosts, one request     median ${fmt(f.median)}  min ${fmt(f.min)}  max ${fmt(f.max)}`,
  );
  console.log(
    `  server RSS ${(before / 1024).toFixed(1)} MiB -> ${(after / 1024).toFixed(1)} MiB: ${(((after - before) * 1024) / clients / 1024).toFixed(1)} KiB per connection`,
  );
  for (const s of sockets) s.destroy();
} finally {
  await agent.stop();
  await srv.stop();
  ca.cleanup();
  cleanup();
}
