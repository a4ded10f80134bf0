// Simulated BasicAgent channels for bench/scale-fanout.mjs, in their own process (forked, driven
// over IPC) so the benchmark's clock and the servers never share its event loop. Each simulated
// host holds a client certificate of the host CA bound to its agentsn (as a BootAgent gets at
// registration; one key for all, a certificate each), connects over TLS, sends `init`, follows a
// `redirect` frame to the node it names (the hub's least-loaded placement), answers `ping` and
// every `sync.bash` at once with a canned success, and notes when each command frame arrived.
//
// Messages in: {op: 'init', hostCaCertFile, hostCaKeyFile, hubCa}, {op: 'connect', set,
// entries: [{host, port}], hosts: [{hostname, agentsn}]}, {op: 'mark'}, {op: 'arrivals'}, {op: 'close'}.
// Messages out: {op: 'ready'}, {op: 'connected', set, ms, redirects, startOvers, retries, byPort}, {op: 'arrivals',
// times, cpu, wait} (epoch ms of each command frame since the last mark; own CPU and wait shares), {op: 'error', message}.
import 'reflect-metadata';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const pem = (label, der) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END ${label}-----\n`;

let issuer;
let hubCa;
const certs = new Map();
const sockets = new Set();
let arrivals = [];
const nowMs = () => performance.timeOrigin + performance.now();
/** Nanoseconds this (main) thread has waited on a run queue for a core. */
const runQueueNs = () => Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]);
let mark = { t: performance.now(), cpu: process.cpuUsage(), wait: 0 };

async function init(m) {
  hubCa = m.hubCa;
  const caCert = new x509.X509Certificate(readFileSync(m.hostCaCertFile, 'utf8'));
  const der = createPrivateKey(readFileSync(m.hostCaKeyFile, 'utf8')).export({ format: 'der', type: 'pkcs8' });
  const caKey = await crypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const keys = await crypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const keyPem = pem('PRIVATE KEY', await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  issuer = { caCert, caKey, keys, keyPem };
}

/** A client certificate for `agentsn` as the host CA issues one (CN and URI SAN, clientAuth). */
async function certFor(agentsn) {
  const known = certs.get(agentsn);
  if (known) return known;
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x01;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject: `CN=${agentsn}`,
    issuer: issuer.caCert.subject,
    notBefore: new Date(Date.now() - 300_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: ALG,
    publicKey: issuer.keys.publicKey,
    signingKey: issuer.caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `urn:aspire:agentsn:${agentsn}` }], false),
    ],
  });
  const text = cert.toString('pem');
  certs.set(agentsn, text);
  return text;
}

const frame = (v) => `${JSON.stringify(v)}\n`;

/**
 * Connect one simulated host; resolves with the port that accepted it and how many redirects it
 * followed. Like the BasicAgent (channel-client.ts): at most 3 redirects in a row, then start over
 * from the entry after a short jittered pause.
 */
function channel(entry, host, port, h, cert, redirects = 0, rounds = 0) {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, servername: 'localhost', ca: hubCa, key: issuer.keyPem, cert }, () =>
      s.write(frame({ method: 'init', hostname: h.hostname, agentsn: h.agentsn, version: 'bench-sim' })),
    );
    let buf = '';
    let accepted = false;
    s.setEncoding('utf8');
    s.on('data', (d) => {
      buf += d;
      for (let n = buf.indexOf('\n'); n >= 0; n = buf.indexOf('\n')) {
        const f = JSON.parse(buf.slice(0, n));
        buf = buf.slice(n + 1);
        if (f.method === 'sync.bash') {
          arrivals.push(nowMs());
          s.write(frame({ id: f.id, resp: 'success', retcode: 0, message: 'Normal termination', data: '' }));
        } else if (f.method === 'ping') s.write(frame({ method: 'pong', ts: f.ts }));
        else if (f.method === 'accept' && !accepted) {
          accepted = true;
          sockets.add(s);
          resolve({ port, redirects, rounds });
        } else if (f.method === 'redirect' && !accepted) {
          s.destroy();
          const to = /^(.*):(\d+)$/.exec(String(f.server).split(',')[0]);
          if (!to || rounds >= 20) return reject(new Error(`${h.hostname}: bad or endless redirect ${f.server}`));
          const again =
            redirects % 4 === 3
              ? new Promise((r) => setTimeout(r, 200 + Math.random() * 800)).then(() =>
                  channel(entry, entry.host, entry.port, h, cert, redirects + 1, rounds + 1),
                )
              : channel(entry, to[1], Number(to[2]), h, cert, redirects + 1, rounds);
          again.then(resolve, reject);
        } else if (f.resp === 'failed' && !accepted) reject(new Error(`${h.hostname} refused: ${f.message}`));
      }
    });
    s.on('error', (e) => (accepted ? undefined : reject(e)));
    s.on('close', () => sockets.delete(s));
  });
}

/**
 * One host's channel, tried again (up to 5 times, after a jittered pause, as an agent reconnects)
 * when the connection fails before it is accepted: on a loaded machine a handshake can outlast
 * the hub's deadline. A refusal (`failed` reply) is not retried.
 */
async function connectRetrying(entry, h) {
  for (let retries = 0; ; retries++) {
    try {
      return { ...(await channel(entry, entry.host, entry.port, h, await certFor(h.agentsn))), retries };
    } catch (e) {
      if (retries >= 5 || /refused:/.test(e.message)) throw e;
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
    }
  }
}

/** Connect every host of the set, 100 handshakes in flight at a time (a window, not batches). */
async function connectSet(m) {
  // Certificates first, outside the timing: the first set would otherwise pay for signing them all.
  for (const h of m.hosts) await certFor(h.agentsn);
  const t0 = performance.now();
  const byPort = {};
  let redirects = 0;
  let startOvers = 0;
  let retries = 0;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < m.hosts.length; i = next++) {
      const h = m.hosts[i];
      // Entry i mod n: DNS round robin over the nodes' addresses (docs/scale.md "Deploying N nodes").
      const entry = m.entries[i % m.entries.length];
      const d = await connectRetrying(entry, h);
      byPort[d.port] = (byPort[d.port] ?? 0) + 1;
      retries += d.retries;
      redirects += d.redirects;
      startOvers += d.rounds;
    }
  };
  await Promise.all(Array.from({ length: 100 }, worker));
  return { op: 'connected', set: m.set, ms: performance.now() - t0, redirects, startOvers, retries, byPort };
}

// Each channel pings now and then, as a BasicAgent does, so an idle set is not closed (idleTimeoutMs).
const pinger = setInterval(() => {
  for (const s of sockets) s.write(frame({ method: 'ping', ts: Date.now() }));
}, 20_000);

process.on('message', (m) => {
  const answer = async () => {
    if (m.op === 'init') {
      await init(m);
      return { op: 'ready' };
    }
    if (m.op === 'connect') return connectSet(m);
    if (m.op === 'mark') {
      arrivals = [];
      mark = { t: performance.now(), cpu: process.cpuUsage(), wait: runQueueNs() };
      return { op: 'marked' };
    }
    if (m.op === 'arrivals') {
      // This process's CPU and run-queue wait since the mark, as shares of the time: near 1
      // together, the simulated channels, not the servers, set the pace.
      const ms = performance.now() - mark.t;
      const used = process.cpuUsage(mark.cpu);
      return {
        op: 'arrivals',
        times: arrivals,
        cpu: (used.user + used.system) / 1000 / ms,
        wait: (runQueueNs() - mark.wait) / 1e6 / ms,
      };
    }
    if (m.op === 'close') {
      clearInterval(pinger);
      for (const s of sockets) s.destroy();
      process.disconnect();
      return undefined;
    }
    throw new Error(`unknown op ${m.op}`);
  };
  answer().then(
    (r) => r && process.send(r),
    (e) => process.send({ op: 'error', message: e.message }),
  );
});
