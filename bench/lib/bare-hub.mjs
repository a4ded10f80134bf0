// The baseline of bench/hub-10k.mjs: a bare node:tls hub, nothing but what a command channel
// needs. Mutual TLS against the host CA (as the real hub), newline-delimited JSON frames, `init`
// answered with `accept`, `ping` with `pong`. POST /fanout on its HTTP port writes one sync.bash
// frame to every accepted channel and answers when every reply came back.
//
//   node bench/lib/bare-hub.mjs CERT KEY HOST_CA_CERT
// prints `bare-hub: tls PORT http PORT` when listening.
import { readFileSync } from 'node:fs';
import { createServer as createHttp } from 'node:http';
import { createServer as createTls } from 'node:tls';

const [certFile, keyFile, caFile] = process.argv.slice(2);
const channels = new Set();
const waiting = new Map();
let seq = 0;
const frame = (v) => `${JSON.stringify(v)}\n`;

const tls = createTls(
  {
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    ca: readFileSync(caFile),
    requestCert: true,
    rejectUnauthorized: true,
  },
  (s) => {
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      buf += d;
      for (let n = buf.indexOf('\n'); n >= 0; n = buf.indexOf('\n')) {
        const f = JSON.parse(buf.slice(0, n));
        buf = buf.slice(n + 1);
        if (f.method === 'init') {
          channels.add(s);
          s.write(frame({ method: 'accept' }));
        } else if (f.method === 'ping') s.write(frame({ method: 'pong', ts: f.ts }));
        else if (f.id !== undefined) waiting.get(f.id)?.(f);
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => channels.delete(s));
  },
);

/** One sync.bash to every channel; resolves with how many answered success. */
function fanOut() {
  const all = [...channels];
  let left = all.length;
  let ok = 0;
  return new Promise((resolve) => {
    if (left === 0) resolve(0);
    for (const s of all) {
      const id = `bare-${++seq}`;
      waiting.set(id, (reply) => {
        waiting.delete(id);
        if (reply.resp === 'success') ok++;
        if (--left === 0) resolve(ok);
      });
      s.write(frame({ id, method: 'sync.bash', cmd: 'true', timeout: 60 }));
    }
  });
}

const http = createHttp((req, res) => {
  req.resume();
  req.on('end', async () => {
    const ok = await fanOut();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok }));
  });
});

tls.listen(0, '127.0.0.1', () =>
  http.listen(0, '127.0.0.1', () => console.log(`bare-hub: tls ${tls.address().port} http ${http.address().port}`)),
);
process.on('SIGTERM', () => process.exit(0));
