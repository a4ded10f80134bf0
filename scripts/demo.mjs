#!/usr/bin/env node
// The main job on one machine: the Aspire server on its embedded SQLite plus one BootAgent
// registered to it, state in ./.demo. Runs until Ctrl-C, then stops both (sub-agents the
// BootAgent started keep running, as on a real host; `npm run demo -- --clean` removes them
// along with the state). Everything listens on loopback only.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAll } from './build.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const demo = join(root, '.demo');
const args = process.argv.slice(2);
const port = Number(process.env.ASPIRE_DEMO_PORT ?? 8180);

if (args.includes('--clean')) {
  rmSync(demo, { recursive: true, force: true });
  console.log(`removed ${demo}`);
}
mkdirSync(demo, { recursive: true });

const buildDir = join(demo, 'build');
await buildAll({ outdir: buildDir });
const bin = (name) => [process.execPath, join(buildDir, name)];

// Secrets are made once and kept in .demo (mode 0600); nothing prints them but this summary.
const secretFile = join(demo, 'enroll-secret');
if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(24).toString('hex'), { mode: 0o600 });
const enrollSecret = readFileSync(secretFile, 'utf8').trim();

const serverConfig = join(demo, 'aspire.json');
writeFileSync(serverConfig, JSON.stringify({ enrollSecret }, null, 2), { mode: 0o600 });
const dataDir = join(demo, 'server');
mkdirSync(dataDir, { recursive: true });

const tokenFile = join(demo, 'operator-token');
if (!existsSync(tokenFile)) {
  const [cmd, script] = bin('aspire.cjs');
  const token = execFileSync(cmd, [script, 'token', 'create', '--data-dir', dataDir, '--config', serverConfig, '--name', 'demo'], {
    encoding: 'utf8',
  }).trim();
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
}
const token = readFileSync(tokenFile, 'utf8').trim();

const children = [];
function start(name, argv, logFile) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const out = [];
  const onData = (chunk) => {
    out.push(String(chunk));
    if (logFile === undefined) process.stdout.write(`[${name}] ${chunk}`);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', (c) => process.stderr.write(`[${name}] ${c}`));
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); see ${logFile ?? 'the output above'}`);
      shutdown(1);
    }
  });
  return { child, out };
}

let stopping = false;
function shutdown(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of children.reverse()) c.kill('SIGTERM');
  setTimeout(() => process.exit(code), 1500).unref();
}
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

const serverLog = join(demo, 'aspire.log');
const server = start(
  'aspire',
  [...bin('aspire.cjs'), 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--config', serverConfig, '--log', serverLog],
  undefined,
);
const url = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error('server did not start in 30 s')), 30_000);
  const check = () => {
    const m = server.out.join('').match(/listening on (http\S+)/);
    if (m) {
      clearTimeout(t);
      resolve(m[1]);
    } else setTimeout(check, 100);
  };
  check();
});

const bootState = join(demo, 'boot');
const bootConfig = join(demo, 'boot.json');
writeFileSync(bootConfig, JSON.stringify({ step: 10, enrollSecret, hostname: undefined }, null, 2), { mode: 0o600 });
const bootLog = join(demo, 'boot.log');
start('boot', [...bin('boot.cjs'), '-f', '-L', bootLog, '-P', join(demo, 'boot.pid'), '-c', bootConfig, '-d', bootState, '-S', url.replace(/^http:\/\//, '')], bootLog);

// Wait for the host to come online through the operator API, then say where to look.
const api = (path) => fetch(`${url}/api/v1/server${path}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json());
let host;
for (let i = 0; i < 100 && !host; i++) {
  await new Promise((r) => setTimeout(r, 300));
  const meta = existsSync(join(bootState, 'meta.json')) ? JSON.parse(readFileSync(join(bootState, 'meta.json'), 'utf8')) : undefined;
  if (meta?.agentsn) {
    const res = await api(`/agent?agentsn=${encodeURIComponent(meta.agentsn)}`).catch(() => undefined);
    if (res?.status === 0 && (res.host?.status ?? res.status_word) !== undefined) host = res.host ?? res;
  }
}

console.log(`
Aspire is running on this machine (Ctrl-C stops it).

  console      ${url}/            (log in with the operator token below)
  REST API     ${url}/api/v1/server/   (Authorization: Bearer <token>)
  OpenAPI      ${url}/api/v1/server/openapi.json
  token        ${tokenFile}
  server log   ${serverLog}
  server data  ${dataDir}  (SQLite)
  boot log     ${bootLog}
  boot state   ${bootState}

  host         ${host ? `${host.hostname ?? ''} ${host.agentsn ?? ''} ${host.status ?? ''}` : 'not online yet: see the boot log'}

Try:
  curl -s -H "Authorization: Bearer $(cat ${tokenFile})" '${url}/api/v1/server/host' | python3 -m json.tool
`);
