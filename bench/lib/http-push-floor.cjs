// The runtime floor of an idle boot (bench/boot-idle.mjs): a bare node doing only what boot's
// idle loop cannot do without. It loads node:crypto and makes and uses one EC key (boot registers
// with a CSR and checks signed replies), then POSTs a JSON body of a status push's size to the
// server every step over node:http with a keep-alive agent, and reads the answer (a 401: no
// credential is sent, the exchange's shape is what counts). Nothing of Aspire's code.
//
//   node http-push-floor.cjs <server url> <step seconds>
'use strict';
const http = require('node:http');
const crypto = require('node:crypto');

const [url, stepSec] = [new URL(process.argv[2]), Number(process.argv[3])];
const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signature = crypto.sign('sha256', Buffer.from('registration'), privateKey);
if (!crypto.verify('sha256', Buffer.from('registration'), publicKey, signature)) process.exit(1);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const body = JSON.stringify({
  hostname: 'floor',
  agents: [{ name: 'x'.repeat(64), state: 'running' }],
  pad: 'p'.repeat(1200),
});

function push() {
  const req = http.request(
    new URL('/api/v1/agent/status', url),
    {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    },
    (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => JSON.parse(Buffer.concat(parts).toString('utf8') || '{}'));
    },
  );
  req.on('error', () => {});
  req.end(body);
}
push();
setInterval(push, stepSec * 1000);
