#!/usr/bin/env node
// The main job on one machine, on the embedded defaults: the Aspire server (SQLite, REST API,
// console, TLS command hub), one BootAgent registered to it, and a BasicAgent that the BootAgent
// installs from the server and supervises, exactly as on a fleet host. State lives in ./.demo;
// everything listens on loopback only. Runs until Ctrl-C, then stops all three.
//
//   npm run demo             start (re-uses ./.demo: same AgentSN, same database)
//   npm run demo -- --clean  forget ./.demo first
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAll } from './build.mjs';
import { makeTestCa } from '../packages/testing/src/tls-certs.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const demo = process.env.ASPIRE_DEMO_DIR ?? join(root, '.demo');
const args = process.argv.slice(2);
const port = Number(process.env.ASPIRE_DEMO_PORT ?? 8180);
const hubListenPort = Number(process.env.ASPIRE_DEMO_HUB_PORT ?? 8443);
const exitAfterReady = args.includes('--check'); // exit once everything is up (scripted checks)

// A busy port is one line naming it and the variable that moves it, before anything starts.
for (const [p, variable] of [
  [port, 'ASPIRE_DEMO_PORT'],
  [hubListenPort, 'ASPIRE_DEMO_HUB_PORT'],
]) {
  const problem = await portProblem(p);
  if (problem) {
    console.error(
      `demo: port ${p} on 127.0.0.1 is ${problem}; choose another with ${variable}, e.g. ${variable}=${p + 1} npm run demo`,
    );
    process.exit(1);
  }
}

if (args.includes('--clean')) rmSync(demo, { recursive: true, force: true });
mkdirSync(demo, { recursive: true, mode: 0o700 });
const at = (...p) => join(demo, ...p);

console.log('demo: bundling the binaries ...');
const buildDir = at('build');
await buildAll({ outdir: buildDir });
const node = process.execPath; // the pinned Node 24.21.0 (npm puts it first on PATH)
const bundle = (name) => join(buildDir, name);

// --- secrets and certificates (made once, kept in .demo with mode 0600) -------------------
const secretFile = at('enroll-secret');
if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(24).toString('hex'), { mode: 0o600 });
const enrollSecret = readFileSync(secretFile, 'utf8').trim();
if (!existsSync(at('tls', 'ca.crt'))) {
  mkdirSync(at('tls'), { recursive: true, mode: 0o700 });
  makeTestCa({ dir: at('tls'), names: ['localhost', '127.0.0.1'], cn: 'Aspire demo CA', days: 365 });
}

const dataDir = at('server');
mkdirSync(dataDir, { recursive: true });
const serverConfig = at('aspire.json');
writeFileSync(serverConfig, `${JSON.stringify({ enrollSecret, dataDir }, null, 2)}\n`, { mode: 0o600 });
const tokenFile = at('operator-token');
if (!existsSync(tokenFile)) {
  const token = execFileSync(
    node,
    [bundle('aspire.cjs'), 'token', 'create', '--config', serverConfig, '--name', 'demo'],
    { encoding: 'utf8' },
  ).trim();
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
}
const token = readFileSync(tokenFile, 'utf8').trim();

// --- processes ------------------------------------------------------------------------------
const children = [];
/** What runs, for the line Ctrl-C prints: "aspire (pid 12)". */
const names = new Map();
let stopping = false;
function start(name, argv, { echo = false } = {}) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  names.set(child, name);
  let out = '';
  child.stdout.on('data', (c) => {
    out += c;
    if (echo) process.stdout.write(`[${name}] ${c}`);
  });
  child.stderr.on('data', (c) => process.stderr.write(`[${name}] ${c}`));
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`demo: ${name} exited (${signal ?? code}); see its log in ${demo}`);
      shutdown(1);
    }
  });
  return { child, output: () => out };
}

const basicPidfile = at('basic', 'basic.pid');
async function shutdown(code = 0, reason) {
  if (stopping) return;
  stopping = true;
  const stopped = children
    .filter((c) => c.exitCode === null && c.signalCode === null)
    .map((c) => `${names.get(c)} (pid ${c.pid})`);
  const exited = children.map((c) =>
    c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)),
  );
  for (const c of [...children].reverse()) c.kill('SIGTERM');
  await Promise.race([Promise.all(exited), new Promise((r) => setTimeout(r, 5000))]);
  // The BasicAgent is the BootAgent's sub-agent and outlives it by design (it survives BootAgent
  // restarts on a real host); the demo owns this machine's copy, so it stops it too, after the
  // BootAgent is gone so nothing restarts it. The next run starts it again from the BootAgent's state.
  try {
    const pid = Number(readFileSync(basicPidfile, 'utf8').trim());
    process.kill(pid, 'SIGTERM');
    stopped.push(`BasicAgent (pid ${pid})`);
    // Gone before the demo says it stopped (a loaded machine takes a moment); at most 10 s.
    for (let i = 0; i < 100; i++) {
      process.kill(pid, 0);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch {
    /* not running (any more) */
  }
  if (reason)
    console.log(
      `\ndemo: ${reason}: stopped ${stopped.length ? stopped.join(', ') : 'nothing (nothing was running)'}; state kept in ${demo} (npm run demo -- --clean forgets it)`,
    );
  process.exit(code);
}
process.on('SIGINT', () => shutdown(0, 'Ctrl-C'));
process.on('SIGTERM', () => shutdown(0, 'SIGTERM'));

const server = start('aspire', [
  node,
  bundle('aspire.cjs'),
  'serve',
  '--config',
  serverConfig,
  '--listen',
  `127.0.0.1:${port}`,
  '--log-file',
  at('aspire.log'),
  '--hub-listen',
  `127.0.0.1:${hubListenPort}`,
  '--hub-cert',
  at('tls', 'server.crt'),
  '--hub-key',
  at('tls', 'server.key'),
]);
const url = await until(() => server.output().match(/listening on (http\S+)/)?.[1], 30_000, 'the server to listen');
const hubPort = Number(
  await until(
    () => server.output().match(/hub listening on tls:\/\/\S+:(\d+)/)?.[1],
    30_000,
    'the command hub to listen',
  ),
);

const bootState = at('boot');
const bootConfig = at('boot.json');
// The host policy files (docs/security.md): permissive, as the packaged defaults, and the demo's
// own, so a policy installed on this machine in /etc never applies to the demo. 0644: the agents
// refuse a policy file that group or others may write.
const writePolicy = (path, policy) => {
  writeFileSync(
    path,
    `${JSON.stringify({ version: 1, comment: 'demo: allow all (docs/security.md "The host policy file")', ...policy }, null, 2)}\n`,
    { mode: 0o644 },
  );
  chmodSync(path, 0o644);
};
writePolicy(at('boot-policy.json'), { actions: '*', sources: '*' });
// Supervision numbers shrunk from the fleet defaults (60 s checks, 3 min restart hold) so a
// BasicAgent that the previous demo run stopped comes back within seconds.
writeFileSync(
  bootConfig,
  `${JSON.stringify({ step: 5, enrollSecret, supervision: { checkIntervalSec: 5, restartHoldSec: 5 }, policy: at('boot-policy.json') }, null, 2)}\n`,
  { mode: 0o600 },
);
start('boot', [
  node,
  bundle('boot.cjs'),
  '-f',
  '-L',
  at('boot.log'),
  '-P',
  at('boot.pid'),
  '-c',
  bootConfig,
  '-d',
  bootState,
  '-S',
  new URL(url).host,
]);

const api = async (method, path, body, headers = {}) => {
  const res = await fetch(`${url}/api/v1/server${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body && !(body instanceof Uint8Array) ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body instanceof Uint8Array ? body : body ? JSON.stringify(body) : undefined,
  });
  return res.json();
};

const agentsn = await until(
  () => {
    const meta = existsSync(join(bootState, 'meta.json'))
      ? JSON.parse(readFileSync(join(bootState, 'meta.json'), 'utf8'))
      : undefined;
    return meta?.trusted ? meta.agentsn : undefined;
  },
  30_000,
  'the BootAgent to register',
);
await until(
  async () => (await api('GET', `/agent?agentsn=${agentsn}`)).host?.status === 'online',
  30_000,
  'the host to be online',
);

// --- the BasicAgent, published on the server and installed by the BootAgent --------------
const basicVersion = '1.0.0';
const basicDir = at('basic');
mkdirSync(basicDir, { recursive: true });
writeFileSync(at('basic', 'crontab'), '# sec min hour dom mon dow user command\n0 * * * * * root uptime\n');
writePolicy(at('basic', 'policy.json'), { commands: '*', users: '*', collectors: '*' });
writeFileSync(
  at('basic', 'basic.json'),
  `${JSON.stringify(
    {
      serverHost: 'localhost',
      serverPort: hubPort,
      ca: at('tls', 'ca.crt'),
      crontab: at('basic', 'crontab'),
      stateDir: at('basic', 'state'),
      bootMetafile: join(bootState, 'meta.json'),
      policy: at('basic', 'policy.json'),
      // The server key the BootAgent pinned at registration: every command frame must be signed with it.
      serverPublicKey: join(bootState, 'identity', 'server-signing.pub'),
      // The client certificate the server's host CA issued the BootAgent (the hub requires it).
      tlsClientCert: join(bootState, 'identity', 'host.crt'),
      tlsClientKey: join(bootState, 'identity', 'host.key'),
    },
    null,
    2,
  )}\n`,
);
const host = (await api('GET', `/agent?agentsn=${agentsn}`)).host;
const installed = (host.agents ?? []).some((a) => a.name === 'BasicAgent');
if (!installed) {
  const pkgDir = at('basic', 'package');
  mkdirSync(pkgDir, { recursive: true });
  // The bundle loads its chunks (the daemon, systeminformation) from beside itself: ship them too.
  const files = readdirSync(buildDir).filter((f) => f === 'basic-agent.cjs' || f.startsWith('basic-agent.chunk-'));
  for (const f of files) execFileSync('cp', [bundle(f), join(pkgDir, f)]);
  // The run spec (docs/supervision.md): a fleet RPM runs /usr/bin/BasicAgent; here the bundle on the pinned Node.
  writeFileSync(
    join(pkgDir, 'agent.json'),
    `${JSON.stringify(
      {
        name: 'BasicAgent',
        version: basicVersion,
        start: [
          node,
          'basic-agent.cjs',
          '-f',
          '-c',
          at('basic', 'basic.json'),
          '-L',
          at('basic', 'basic.log'),
          '-P',
          basicPidfile,
        ],
        stop: 'kill:SIGTERM',
        stop_timeout: 15,
        check: 'process',
      },
      null,
      2,
    )}\n`,
  );
  const tgz = at('basic', `BasicAgent-${basicVersion}.tar.gz`);
  execFileSync('tar', ['-czf', tgz, '-C', pkgDir, 'agent.json', ...files]);
  const q = new URLSearchParams({
    name: 'BasicAgent',
    version: basicVersion,
    os: 'linux',
    arch: host.arch,
    file: `BasicAgent-${basicVersion}.tar.gz`,
  });
  const up = await api('POST', `/package?${q}`, new Uint8Array(readFileSync(tgz)), {
    'content-type': 'application/octet-stream',
  });
  if (up.status !== 0 && up.status !== 130011) throw new Error(`upload failed: ${JSON.stringify(up)}`);
  const task = await api('POST', '/task', {
    command: 'install',
    agents: [agentsn],
    parameters: { name: 'BasicAgent', version: basicVersion },
  });
  if (task.status !== 0) throw new Error(`install task refused: ${JSON.stringify(task)}`);
  console.log(`demo: install task ${task.id} sent; the BootAgent picks it up on its next push ...`);
  const done = await until(
    async () => {
      const t = await api('GET', `/task?id=${task.id}`);
      const s = t.subtasks?.[0];
      return s && ['SUCCESS', 'FAILED', 'REVOKED'].includes(s.state) ? s : undefined;
    },
    60_000,
    'the install task',
  );
  if (done.state !== 'SUCCESS') throw new Error(`install failed: ${JSON.stringify(done)}`);
}
await until(
  async () => (await api('GET', '/polaris/agents')).agents?.some((a) => a.agentsn === agentsn),
  60_000,
  'the BasicAgent to join the command hub',
);
const probe = await api('POST', '/polaris', { hosts: [agentsn], method: 'sync.bash', cmd: 'uname -sr; id -un' });
const answer = probe.response?.[0];

console.log(`
Aspire is running on this machine (Ctrl-C stops it).

  console       ${url}/    log in with the operator token below
  token         ${token}
                (also in ${tokenFile}; admin role)
  REST API      ${url}/api/v1/server/...   (Authorization: Bearer <token>; OpenAPI at /api/v1/server/openapi.json)
  command hub   tls://127.0.0.1:${hubPort}   (CA ${at('tls', 'ca.crt')})
  host          ${agentsn} online, BootAgent step 5 s, BasicAgent supervised and connected
  sync.bash     "uname -sr; id -un" -> ${answer?.resp} ${JSON.stringify(answer?.data ?? answer?.message)}

  logs          ${at('aspire.log')}
                ${at('boot.log')}
                ${at('basic', 'basic.log')}
  state         ${dataDir} (SQLite), ${bootState}, ${at('basic', 'state')}
  host policy   ${at('boot-policy.json')}, ${at('basic', 'policy.json')} (allow all; docs/security.md)
  audit log     GET ${url}/api/v1/server/audit (admin token; table "audit" in ${join(dataDir, 'aspire.db')},
                one JSON line per row in ${at('aspire.log')} with "component":"audit")

Try:
  T=$(cat ${tokenFile})
  curl -s -H "Authorization: Bearer $T" ${url}/api/v1/server/host | python3 -m json.tool
  curl -s -H "Authorization: Bearer $T" -H 'content-type: application/json' \\
       -d '{"hosts":["${agentsn}"],"method":"getinfo.kernel"}' ${url}/api/v1/server/polaris
`);
if (exitAfterReady) shutdown(0, '--check');

/** Why 127.0.0.1:port cannot be listened on ("in use", ...), or undefined when it can (0: any port). */
function portProblem(p) {
  if (p === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err) => resolve(err.code === 'EADDRINUSE' ? 'in use' : `not available (${err.code})`));
    probe.listen(p, '127.0.0.1', () => probe.close(() => resolve(undefined)));
  });
}

async function until(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve()
      .then(fn)
      .catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) {
      console.error(`demo: timed out waiting for ${what}; logs are in ${demo}`);
      shutdown(1);
      return new Promise(() => {});
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
