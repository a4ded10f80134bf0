// The shipped artefacts: scripts/package.sh builds the single executables and RPMs into this
// test's temp dir, and everything below runs on them: the RPM layout, rpm -K, rpmlint, an install
// into a scratch root (rpm -V clean, upgrade keeps an edited config), the systemd scriptlets
// against a recording systemctl stand-in (running, offline, failing), byte-identical rebuilds, the
// compiled-in BOOT_SERVER_ADDR, the aarch64 binaries under qemu, and the foundation's end-to-end
// flows (register, status, config job, kill -9 recovery) with boot and aspire taken from the RPM
// payload (ASPIRE_BIN_DIR). Needs root (rpm --root, mknod) and the tools scripts/setup.sh installs.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Child, makeTestCa, repoRoot, startAspire, startBasicAgent, startBoot, waitUntil } from '@aspire/testing';

const exec = promisify(execFile);
const ROOT = repoRoot();
const V1 = '1.0.0';
const V2 = '1.0.1';

let work: string;
let dist: string;
let distUpgrade: string;
let distArm: string;
/** usr/bin of the extracted x86_64 RPM payloads: what ASPIRE_BIN_DIR points at. */
let payloadBin: string;
let payloadRoot: string;
/** Registrations seen by the stand-in server that BOOT_SERVER_ADDR was compiled to point at. */
const compiledInHits: { path: string; body: string }[] = [];
let compiledIn: Server;
let compiledInAddr: string;
const timings: Record<string, number> = {};

async function sh(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
) {
  return exec(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    maxBuffer: 64 * 1024 * 1024,
    // Generous: package.sh takes minutes, and many more on a loaded machine (it was killed at 600 s).
    timeout: opts.timeoutMs ?? 1_800_000,
    encoding: 'utf8',
  });
}

/** Run, never throw: for commands whose exit status is part of the assertion. */
async function shTry(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  try {
    const r = await sh(cmd, args, opts);
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** What every program prints for --version (issue 15): NAME VERSION (node VERSION, ARCH). */
const versionLine = (name: string, v: string, arch = 'x86_64') => `${name} ${v} (node 24.21.0, ${arch})`;
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const rpmFile = (dir: string, name: string, ver: string, arch = 'x86_64') => join(dir, `${name}-${ver}-1.${arch}.rpm`);

async function extract(rpm: string, into: string) {
  mkdirSync(into, { recursive: true });
  // rpm2cpio | cpio: the payload exactly as rpm would install it (argv, no interpolation).
  await sh('sh', ['-c', 'rpm2cpio "$1" | cpio -idm --quiet', 'sh', rpm], { cwd: into });
}

/** A phase of this long suite: logged to stderr as it starts and ends, so `npm test` shows progress. */
async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  console.error(`packaging: ${label} ...`);
  try {
    return await fn();
  } finally {
    timings[label] = (Date.now() - t0) / 1000;
    console.error(`packaging: ${label}: ${timings[label]} s`);
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-pkg-'));
  dist = join(work, 'dist');
  distUpgrade = join(work, 'dist-upgrade');
  distArm = join(work, 'dist-aarch64');
  // The stand-in server exists before the build so its address can be compiled in.
  compiledIn = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      compiledInHits.push({ path: req.url ?? '', body });
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":1,"message":"stand-in"}');
    });
  });
  await new Promise<void>((r) => compiledIn.listen(0, '127.0.0.1', r));
  compiledInAddr = `http://127.0.0.1:${(compiledIn.address() as AddressInfo).port}`;

  // x86_64 RPMs of all three; aarch64 single executables (their RPMs are the same spec with
  // --target aarch64, built by CI's package step; here only the binaries are run under qemu).
  const env = { DIST: dist, ARCHES: 'x86_64 aarch64', RPM_ARCHES: 'x86_64', BOOT_SERVER_ADDR: compiledInAddr };
  await timed('package.sh all (x86_64 rpms, both arches binaries)', () =>
    sh('bash', ['scripts/package.sh', 'all', `${V1}-1`], { env }),
  );
  await timed('package.sh BootAgent upgrade (x86_64)', () =>
    // No compiled-in server in this one: the day-1 flow (docs/install.md) needs a boot that knows none.
    sh('bash', ['scripts/package.sh', 'BootAgent', `${V2}-1`], {
      env: { ...env, DIST: distUpgrade, ARCHES: 'x86_64', BOOT_SERVER_ADDR: '' },
    }),
  );
  // Second run from the bundle the first embedded: the aarch64 RPM, and an x86_64 one to
  // compare byte for byte with the first run's.
  await timed('package.sh BootAgent again (both arches rpms)', () =>
    sh('bash', ['scripts/package.sh', 'BootAgent', `${V1}-1`], {
      env: {
        ...env,
        DIST: distArm,
        BUNDLE_DIR: join(dist, 'bundle'),
        ARCHES: 'x86_64 aarch64',
        RPM_ARCHES: 'x86_64 aarch64',
      },
    }),
  );
  payloadRoot = join(work, 'payload');
  for (const [name, ver] of [
    ['BootAgent', V1],
    ['BasicAgent', V1],
    ['aspire-server', V1],
  ] as const) {
    await extract(rpmFile(dist, name, ver), payloadRoot);
  }
  payloadBin = join(payloadRoot, 'usr', 'bin');
}, 3_600_000);

// Progress for `npm test`: each test of this long suite says when it starts and ends (stderr).
beforeEach((ctx) => console.error(`packaging: ${ctx.task.name} ...`));
afterEach((ctx) => console.error(`packaging: ${ctx.task.name}: ${ctx.task.result?.state ?? 'done'}`));

afterAll(async () => {
  await new Promise((r) => compiledIn?.close(r));
  console.log(`packaging timings (s): ${JSON.stringify(timings)}`);
  if (work) rmSync(work, { recursive: true, force: true });
});

const LAYOUT: Record<string, string[]> = {
  BootAgent: [
    '/etc/bootagent',
    '/etc/bootagent/boot.json',
    '/etc/bootagent/policy.json',
    '/etc/logrotate.d/BootAgent',
    '/usr/bin/boot',
    '/usr/lib/systemd/system/bootagent.service',
    '/usr/share/doc/BootAgent',
    '/usr/share/doc/BootAgent/policy.strict.example.json',
    '/usr/share/licenses/BootAgent/LICENSE',
    '/usr/share/licenses/BootAgent/LICENSE.node',
    '/var/lib/bootagent',
    '/var/log/bootagent',
  ],
  BasicAgent: [
    '/etc/basicagent',
    '/etc/basicagent/basic.json',
    '/etc/basicagent/crontab',
    '/etc/basicagent/policy.json',
    '/etc/logrotate.d/BasicAgent',
    '/usr/bin/BasicAgent',
    '/usr/bin/BasicAgentCtl',
    '/usr/lib/systemd/system/basicagent.service',
    '/usr/share/doc/BasicAgent',
    '/usr/share/doc/BasicAgent/policy.strict.example.json',
    '/usr/share/licenses/BasicAgent/LICENSE',
    '/usr/share/licenses/BasicAgent/LICENSE.node',
    '/var/lib/basicagent',
    '/var/log/basicagent',
  ],
  'aspire-server': [
    '/etc/aspire',
    '/etc/aspire/aspire.json',
    '/etc/sysconfig/aspire-server',
    '/usr/bin/aspire',
    '/usr/lib/systemd/system/aspire.service',
    '/usr/share/licenses/aspire-server/LICENSE',
    '/usr/share/licenses/aspire-server/LICENSE.node',
    '/var/lib/aspire',
  ],
};

describe('RPMs', () => {
  it('rpm -qpl shows the docs/design.md host layout; configs are %config(noreplace)', async () => {
    for (const [name, files] of Object.entries(LAYOUT)) {
      const rpm = rpmFile(dist, name, V1);
      expect((await sh('rpm', ['-qpl', rpm])).stdout.trim().split('\n'), name).toEqual(files);
      // Every file under /etc is %config(noreplace): %{FILEFLAGS} has 1 (config) and 16 (noreplace).
      const flags = (await sh('rpm', ['-qp', '--qf', '[%{FILENAMES} %{FILEFLAGS} %{FILEMODES:perms}\n]', rpm])).stdout
        .trim()
        .split('\n');
      const etcFiles = flags
        .map((l) => l.split(' '))
        .filter(([p, , m]) => p!.startsWith('/etc/') && !m!.startsWith('d'));
      expect(etcFiles.length, name).toBeGreaterThan(0);
      for (const [path, f] of etcFiles) expect(Number(f) & 17, `${path} is %config(noreplace)`).toBe(17);
    }
    const bootUnit = readFileSync(join(payloadRoot, 'usr/lib/systemd/system/bootagent.service'), 'utf8');
    expect(bootUnit).toMatch(
      /^ExecStart=\/usr\/bin\/boot -f .*-L \/var\/log\/bootagent\/boot\.log -P \/run\/bootagent\.pid$/m,
    );
    expect(bootUnit).toMatch(/^Restart=always$/m);
    expect(bootUnit).toMatch(/^KillMode=process$/m);
    // BasicAgentCtl is a link to the one executable.
    const ls = (await sh('rpm', ['-qp', '--qf', '[%{FILENAMES} %{FILELINKTOS}\n]', rpmFile(dist, 'BasicAgent', V1)]))
      .stdout;
    expect(ls).toContain('/usr/bin/BasicAgentCtl BasicAgent');
  });

  it('rpm -K passes; payload is xz (EL8 reads it); no strip, the payload binary is the built one', async () => {
    for (const name of Object.keys(LAYOUT)) {
      const rpm = rpmFile(dist, name, V1);
      expect((await sh('rpm', ['-K', rpm])).stdout).toMatch(/digests OK/);
      expect((await sh('rpm', ['-qp', '--qf', '%{PAYLOADCOMPRESSOR} %{ARCH}', rpm])).stdout).toBe('xz x86_64');
    }
    expect(sha256(join(payloadBin, 'boot'))).toBe(sha256(join(dist, 'bin/x86_64/boot')));
    expect(sha256(join(payloadBin, 'BasicAgent'))).toBe(sha256(join(dist, 'bin/x86_64/BasicAgent')));
    expect(sha256(join(payloadBin, 'aspire'))).toBe(sha256(join(dist, 'bin/x86_64/aspire')));
    const req = (await sh('rpm', ['-qp', '--requires', rpmFile(dist, 'BootAgent', V1)])).stdout;
    expect(req).toContain('libc.so.6(GLIBC_2.28)(64bit)');
    expect(req).not.toMatch(/GLIBC_2\.(29|[3-9]\d)/);
  });

  it('rpmlint (with rpm/<package>.rpmlintrc) reports no errors', async () => {
    for (const name of Object.keys(LAYOUT)) {
      const r = await shTry('rpmlint', ['-r', `rpm/${name}.rpmlintrc`, rpmFile(dist, name, V1)]);
      expect(r.stdout, r.stdout).toMatch(/ 0 errors, /);
      expect(r.stdout).not.toMatch(/: E: /);
    }
  });
});

describe('single executables', () => {
  it('the same inputs give byte-identical binaries (bundle and single executables)', async () => {
    const again = join(work, 'again');
    const node = join(ROOT, 'node_modules/node/bin/node');
    // The bundle: esbuild twice from the same tree (other work may change the tree between this
    // and the package step, so the bundle is compared with itself, the SEA with the package's).
    for (const d of ['b1', 'b2']) {
      await sh(node, ['scripts/build.mjs', 'boot'], {
        env: { ASPIRE_BUILD_DIR: join(again, d), ASPIRE_VERSION: V1, BOOT_SERVER_ADDR: compiledInAddr },
      });
    }
    expect(sha256(join(again, 'b1/boot.cjs'))).toBe(sha256(join(again, 'b2/boot.cjs')));
    // The single executables: from the bundle package.sh embedded, in another directory.
    await sh(node, [
      'scripts/sea.mjs',
      '--bundle',
      join(dist, 'bundle/boot.cjs'),
      '--name',
      'boot',
      '--out',
      join(again, 'sea'),
    ]);
    for (const arch of ['x86_64', 'aarch64']) {
      expect(sha256(join(again, 'sea', arch, 'boot')), arch).toBe(sha256(join(dist, 'bin', arch, 'boot')));
    }
  });

  it('a second package.sh run from the same bundle gives byte-identical RPMs and binaries', () => {
    expect(sha256(rpmFile(distArm, 'BootAgent', V1))).toBe(sha256(rpmFile(dist, 'BootAgent', V1)));
    for (const arch of ['x86_64', 'aarch64'])
      expect(sha256(join(distArm, 'bin', arch, 'boot')), arch).toBe(sha256(join(dist, 'bin', arch, 'boot')));
  });

  it('NODE_OPTIONS cannot change them (execArgvExtension none)', async () => {
    const inject = join(work, 'inject.cjs');
    writeFileSync(inject, 'console.log("INJECTED"); process.exit(0);\n');
    const r = await sh(join(payloadBin, 'boot'), ['--version'], { env: { NODE_OPTIONS: `--require ${inject}` } });
    expect(r.stdout.trim()).toBe(versionLine('boot', V1));
  });

  it('BasicAgentCtl (the link) runs the collector; BasicAgent refuses the unconfigured packaged basic.json', async () => {
    const kernel = JSON.parse((await sh(join(payloadBin, 'BasicAgentCtl'), ['-c', 'getinfo.kernel'])).stdout);
    expect(kernel).toMatchObject({ arch: 'x86_64', release: expect.any(String) });
    expect((await sh(join(payloadBin, 'BasicAgent'), ['--version'])).stdout.trim()).toBe(versionLine('BasicAgent', V1));
    expect((await sh(join(payloadBin, 'BasicAgentCtl'), ['--version'])).stdout.trim()).toBe(
      versionLine('BasicAgentCtl', V1),
    );
    expect((await sh(join(payloadBin, 'aspire'), ['--version'])).stdout.trim()).toBe(versionLine('aspire', V1));
    const t = await shTry(join(payloadBin, 'BasicAgent'), ['-T', '-c', join(payloadRoot, 'etc/basicagent/basic.json')]);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/no hub address: "serverHost" is empty/);
    // The packaged unit's pre-start check lets the agent start and wait for it.
    expect(
      (
        await shTry(join(payloadBin, 'BasicAgent'), [
          '-T',
          '--allow-no-server',
          '-c',
          join(payloadRoot, 'etc/basicagent/basic.json'),
        ])
      ).code,
    ).toBe(0);
  });

  it('aarch64 binaries under qemu print what the x86_64 ones print', async () => {
    const qemu = (bin: string, args: string[]) =>
      sh('qemu-aarch64-static', ['-L', '/usr/aarch64-linux-gnu', join(dist, 'bin/aarch64', bin), ...args]);
    const native = (bin: string, args: string[]) => sh(join(dist, 'bin/x86_64', bin), args);
    const sample = join(payloadRoot, 'etc/bootagent/boot.json');
    for (const [bin, args] of [
      ['boot', ['--version']],
      ['boot', ['-T', '-c', sample]],
      ['BasicAgent', ['--version']],
    ] as const) {
      // --version names the machine: aarch64 under qemu, x86_64 natively; the rest is the same.
      expect((await qemu(bin, [...args])).stdout.replace('aarch64', 'ARCH'), `${bin} ${args.join(' ')}`).toBe(
        (await native(bin, [...args])).stdout.replace('x86_64', 'ARCH'),
      );
    }
    const arm = JSON.parse((await qemu('BasicAgentCtl', ['-c', 'getinfo.kernel'])).stdout);
    const x86 = JSON.parse((await native('BasicAgentCtl', ['-c', 'getinfo.kernel'])).stdout);
    expect(arm.arch).toBe('aarch64');
    expect({ ...arm, arch: 'x' }).toEqual({ ...x86, arch: 'x' });
  });

  it('boot without -S and without a metafile registers with the compiled-in BOOT_SERVER_ADDR', async () => {
    const dir = mkdtempSync(join(work, 'compiled-'));
    writeFileSync(join(dir, 'boot.json'), JSON.stringify({ step: 1, httpTimeoutSec: 2 }));
    const boot = new Child(join(payloadBin, 'boot'), [
      '-f',
      '-c',
      join(dir, 'boot.json'),
      '-d',
      join(dir, 'state'),
      '-L',
      join(dir, 'boot.log'),
      '-P',
      join(dir, 'boot.pid'),
    ]);
    try {
      const hit = await waitUntil(() => compiledInHits.find((h) => h.path === '/agent/register'), {
        timeoutMs: 30_000,
        what: 'a registration at the compiled-in address',
      });
      expect(JSON.parse(hit.body)).toMatchObject({ agentsn: expect.any(String), hostname: expect.any(String) });
    } finally {
      await boot.stop();
    }
  });
});

/**
 * A minimal root for rpm --root: /bin/sh (the scriptlets' interpreter) and its libc, /dev/null,
 * and the aspire user. No systemctl: the scriptlets' "no systemd" path runs for real
 * (installSystemctlStandIn adds a recording one for the systemd paths).
 */
async function makeScratchRoot(root: string): Promise<void> {
  for (const d of ['bin', 'lib/x86_64-linux-gnu', 'lib64', 'dev', 'etc', 'tmp', 'var/tmp'])
    mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/dash', join(root, 'bin/sh'));
  chmodSync(join(root, 'bin/sh'), 0o755);
  copyFileSync('/lib/x86_64-linux-gnu/libc.so.6', join(root, 'lib/x86_64-linux-gnu/libc.so.6'));
  copyFileSync('/lib64/ld-linux-x86-64.so.2', join(root, 'lib64/ld-linux-x86-64.so.2'));
  writeFileSync(
    join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\naspire:x:990:990:Aspire server:/var/lib/aspire:/sbin/nologin\n',
  );
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\naspire:x:990:\n');
  await exec('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3']);
}

/**
 * A recording stand-in for systemctl, put at /usr/bin/systemctl in a scratch root: rpm --root
 * chroots the scriptlets, whose PATH (/sbin:/bin:/usr/sbin:/usr/bin) then finds it. It appends
 * every call's arguments to /var/log/systemctl.calls and answers `is-system-running` with the
 * state in /etc/systemctl.state ("STATE" or "STATE fail"; like the real one it exits 0 only for
 * "running"); with "fail" every call exits 1. Shell builtins only: the root has just /bin/sh.
 */
const SYSTEMCTL_STAND_IN = `#!/bin/sh
echo "$*" >> /var/log/systemctl.calls
read -r state mode < /etc/systemctl.state
if [ "$1" = is-system-running ]; then
  echo "$state"
  [ "$state" = running ] || exit 1
fi
[ "$mode" = fail ] && exit 1
exit 0
`;

function installSystemctlStandIn(root: string): void {
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  mkdirSync(join(root, 'var/log'), { recursive: true });
  writeFileSync(join(root, 'usr/bin/systemctl'), SYSTEMCTL_STAND_IN, { mode: 0o755 });
  writeFileSync(join(root, 'var/log/systemctl.calls'), '');
}

function setSystemdState(root: string, state: 'running' | 'offline', opts: { fail?: boolean } = {}): void {
  writeFileSync(join(root, 'etc/systemctl.state'), `${state}${opts.fail ? ' fail' : ''}\n`);
}

/** The calls the stand-in recorded since the last takeCalls, one string per call. */
function takeCalls(root: string): string[] {
  const log = join(root, 'var/log/systemctl.calls');
  const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  writeFileSync(log, '');
  return calls;
}

describe('logrotate snippet', () => {
  it("BootAgent's snippet rotates boot.log and boot reopens it on the SIGHUP it sends", async () => {
    const dir = mkdtempSync(join(work, 'logrotate-'));
    const logDir = join(dir, 'log');
    mkdirSync(logDir, { mode: 0o750 });
    const pidfile = join(dir, 'bootagent.pid');
    // The packaged snippet with its two host paths pointed into the temp dir, nothing else changed.
    const snippet = readFileSync(join(payloadRoot, 'etc/logrotate.d/BootAgent'), 'utf8');
    expect(snippet).toContain('/var/log/bootagent/*.log');
    expect(snippet).toContain('/run/bootagent.pid');
    const conf = join(dir, 'logrotate.conf');
    writeFileSync(
      conf,
      snippet.replaceAll('/var/log/bootagent/', `${logDir}/`).replaceAll('/run/bootagent.pid', pidfile),
      { mode: 0o644 },
    );
    writeFileSync(join(dir, 'boot.json'), JSON.stringify({ step: 1, httpTimeoutSec: 2 }));
    const log = join(logDir, 'boot.log');
    const boot = new Child(join(payloadBin, 'boot'), [
      '-f',
      '-c',
      join(dir, 'boot.json'),
      '-d',
      join(dir, 'state'),
      '-L',
      log,
      '-P',
      pidfile,
      '-S',
      compiledInAddr,
    ]);
    try {
      await boot.waitForLine(/^boot: running pid/, 30_000);
      await waitUntil(() => existsSync(log) && readFileSync(log, 'utf8').length > 0, { what: 'boot.log written' });
      const r = await shTry('logrotate', ['-f', '-s', join(dir, 'state.logrotate'), conf]);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(`${log}.1`, 'utf8')).toMatch(/"msg"/);
      // boot got the HUP from postrotate: its reopen line lands in the new file, and it keeps going.
      await waitUntil(() => existsSync(log) && /log file reopened/.test(readFileSync(log, 'utf8')), {
        timeoutMs: 15_000,
        what: 'reopen line in the new boot.log',
      });
      expect(boot.proc.exitCode).toBeNull();
    } finally {
      await boot.stop();
    }
  });
});

describe('install into a scratch root', () => {
  let root: string;
  const rpmArgs = () => ['--root', root, '--dbpath', '/var/lib/rpm'];

  beforeAll(async () => {
    root = join(work, 'root');
    await makeScratchRoot(root);
  });

  it('installs, the installed boot runs, rpm -V is clean', async () => {
    const pkgs = Object.keys(LAYOUT).map((n) => rpmFile(dist, n, V1));
    const r = await shTry('rpm', [...rpmArgs(), '-i', '--nodeps', ...pkgs]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/scriptlet failed|error:/);
    const boot = join(root, 'usr/bin/boot');
    expect((await sh(boot, ['--version'])).stdout.trim()).toBe(versionLine('boot', V1));
    expect((await sh(boot, ['-T', '-c', join(root, 'etc/bootagent/boot.json')])).stdout).toMatch(/is valid/);
    const v = await shTry('rpm', [...rpmArgs(), '-V', '--nodeps', '-a']);
    expect(v.stdout).toBe('');
    expect(v.code).toBe(0);
    // The installed server starts on its packaged config (port 0 instead of the packaged 8180).
    const data = mkdtempSync(join(work, 'srvdata-'));
    const srv = new Child(join(root, 'usr/bin/aspire'), [
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      data,
      '--config',
      join(root, 'etc/aspire/aspire.json'),
    ]);
    try {
      await srv.waitForLine(/^aspire: listening on http:\/\/127\.0\.0\.1:\d+$/, 30_000);
    } finally {
      await srv.stop();
    }
  });

  it('the systemd units pass systemd-analyze verify with no complaint', async () => {
    // verify --root needs the targets the units hang off and the binaries they exec.
    const units = join(root, 'usr/lib/systemd/system');
    for (const t of [
      'sysinit.target',
      'basic.target',
      'multi-user.target',
      'network-online.target',
      'shutdown.target',
      'network.target',
      'paths.target',
      'slices.target',
      'sockets.target',
      'timers.target',
      'local-fs.target',
      'swap.target',
    ]) {
      if (existsSync(join('/usr/lib/systemd/system', t)))
        copyFileSync(join('/usr/lib/systemd/system', t), join(units, t));
    }
    copyFileSync('/bin/kill', join(root, 'bin/kill'));
    for (const unit of ['bootagent.service', 'basicagent.service', 'aspire.service']) {
      const r = await shTry('systemd-analyze', ['verify', `--root=${root}`, '--man=no', unit]);
      expect(r.code, `${unit}: ${r.stderr}`).toBe(0);
      // Bad values are only warnings (exit 0): the unit must verify silently.
      expect(r.stderr.trim(), unit).toBe('');
    }
  });

  it('an upgrade keeps an edited config and installs the new binary; erase keeps it as .rpmsave', async () => {
    const conf = join(root, 'etc/bootagent/boot.json');
    const edited = JSON.stringify(
      { servers: ['aspire.example.test:8180'], step: 300, logLevel: 'debug', tags: 'svc=edited' },
      null,
      2,
    );
    writeFileSync(conf, edited);
    const r = await shTry('rpm', [...rpmArgs(), '-U', '--nodeps', rpmFile(distUpgrade, 'BootAgent', V2)]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(conf, 'utf8')).toBe(edited);
    expect(existsSync(`${conf}.rpmnew`)).toBe(false);
    expect((await sh('rpm', [...rpmArgs(), '-q', 'BootAgent'])).stdout.trim()).toBe(`BootAgent-${V2}-1.x86_64`);
    expect((await sh(join(root, 'usr/bin/boot'), ['--version'])).stdout.trim()).toBe(versionLine('boot', V2));
    expect((await sh(join(root, 'usr/bin/boot'), ['-T', '-c', conf])).stdout).toMatch(/is valid/);
    // Only the edited config differs from the package, and rpm knows it is a config file.
    const v = await shTry('rpm', [...rpmArgs(), '-V', '--nodeps', 'BootAgent']);
    expect(v.stdout.trim()).toMatch(/^S\.5\.\.\.\.T\.? +c \/etc\/bootagent\/boot\.json$/);
    const e = await shTry('rpm', [...rpmArgs(), '-e', '--nodeps', 'BootAgent']);
    expect(e.code, e.stderr).toBe(0);
    expect(existsSync(join(root, 'usr/bin/boot'))).toBe(false);
    expect(readFileSync(`${conf}.rpmsave`, 'utf8')).toBe(edited);
  });
});

describe('day 1 from the RPMs (docs/install.md)', () => {
  // The steps of docs/install.md in a scratch root: aspire-server and a BootAgent built without
  // a compiled-in server (the upgrade build), the service user's data dir, boot waiting for a
  // server, `servers` set in boot.json, the host online. Paths under / are the scratch root's.
  it("rpm -i; boot -T exits 2 without a server; token create as root keeps the data dir the service user's; servers in boot.json; host online", async () => {
    const root = join(work, 'root-day1');
    await makeScratchRoot(root);
    const r = await shTry('rpm', [
      '--root',
      root,
      '--dbpath',
      '/var/lib/rpm',
      '-i',
      '--nodeps',
      rpmFile(dist, 'aspire-server', V1),
      rpmFile(distUpgrade, 'BootAgent', V2),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const boot = join(root, 'usr/bin/boot');
    const aspire = join(root, 'usr/bin/aspire');
    const bootJson = join(root, 'etc/bootagent/boot.json');
    const bootState = join(root, 'var/lib/bootagent');
    const dataDir = join(root, 'var/lib/aspire');
    // Step: check the packaged config. No server anywhere: exit 2 and what to do.
    const t = await shTry(boot, ['-T', '-c', bootJson, '-d', bootState]);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/^boot: no server known: .* Set one, e\.g\. "servers": \["aspire\.example:8180"\] in /m);
    // The unit's pre-start check accepts it: the service starts and waits instead of looping.
    expect((await shTry(boot, ['-T', '--allow-no-server', '-c', bootJson, '-d', bootState])).code).toBe(0);

    // Step: the server, as the aspire user (uid 990 in the scratch root), on its packaged config.
    const uid = statSync(dataDir).uid;
    expect(uid).toBe(990);
    // The service user must reach its data dir through this run's temp dirs (search permission only).
    for (let d = dirname(dataDir); d.startsWith(work); d = dirname(d)) chmodSync(d, statSync(d).mode | 0o011);
    for (const d of [tmpdir()]) chmodSync(d, statSync(d).mode | 0o011);
    const tok = await shTry(aspire, ['token', 'create', '--data-dir', dataDir, '--name', 'admin']);
    expect(tok.code, tok.stderr).toBe(0);
    const token = tok.stdout.trim();
    for (const f of readdirSync(dataDir))
      expect(statSync(join(dataDir, f)).uid, `${f} belongs to the service user`).toBe(990);
    const srv = new Child(
      aspire,
      ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--config', join(root, 'etc/aspire/aspire.json')],
      { uid: 990, gid: 990 },
    );
    const agent = new Child(boot, [
      '-f',
      '-c',
      bootJson,
      '-d',
      bootState,
      '-L',
      join(root, 'var/log/bootagent/boot.log'),
      '-P',
      join(root, 'run/bootagent.pid'),
    ]);
    try {
      const url = (await srv.waitForLine(/^aspire: listening on (http:\/\/\S+)$/, 30_000))[1]!;
      // Step: BootAgent runs (rpm -i started it) and waits, one line per backoff.
      const log = join(root, 'var/log/bootagent/boot.log');
      await waitUntil(() => existsSync(log) && /no server known yet/.test(readFileSync(log, 'utf8')), {
        timeoutMs: 30_000,
        what: 'boot waiting for a server',
      });
      expect(agent.proc.exitCode).toBeNull();
      // Step: name the server in boot.json (the packaged file has "servers": []).
      const packaged = JSON.parse(readFileSync(bootJson, 'utf8'));
      expect(packaged.servers).toEqual([]);
      writeFileSync(bootJson, `${JSON.stringify({ ...packaged, servers: [new URL(url).host] }, null, 2)}\n`);
      expect((await shTry(boot, ['-T', '-c', bootJson, '-d', bootState])).stdout).toMatch(/is valid/);
      // Step: the host shows up online (what the console's Hosts tab lists).
      const host = await waitUntil(
        async () => {
          const res = await fetch(`${url}/api/v1/server/host`, { headers: { authorization: `Bearer ${token}` } });
          const body = (await res.json()) as {
            hosts?: { status: string; curvers?: string }[];
            data?: { status: string }[];
          };
          const list = (body.hosts ?? body.data ?? []) as { status: string; curvers?: string }[];
          return list.find((h) => h.status === 'online');
        },
        { timeoutMs: 120_000, what: 'the host online' },
      );
      expect(String(host.curvers ?? '')).toContain(V2);
    } finally {
      await agent.stop();
      await srv.stop();
    }
    // Nothing in the data dir became root's while the service user ran it.
    for (const f of readdirSync(dataDir)) expect(statSync(join(dataDir, f)).uid, f).toBe(990);
  }, 300_000);
});

describe('scriptlets against a recording systemctl (rpm/aspire-common.inc)', () => {
  const UNIT: Record<string, string> = {
    BootAgent: 'bootagent.service',
    BasicAgent: 'basicagent.service',
    'aspire-server': 'aspire.service',
  };
  const NAMES = Object.keys(UNIT);
  /**
   * Upgrade transaction per package: BootAgent 1.0.0-1 -> 1.0.1-1 (the upgrade build). For the
   * other two, rpm -U --replacepkgs of 1.0.0-1 over itself: rpm installs the new instance and
   * erases the old one, running the same scriptlets with the same $1 as an upgrade (%post 2,
   * %preun/%postun 1), without building two more RPMs for the test.
   */
  const upgradeArgs = (name: string) =>
    name === 'BootAgent' ? [rpmFile(distUpgrade, name, V2)] : ['--replacepkgs', rpmFile(dist, name, V1)];
  /** Only BootAgent is enabled on install (BootAgent supervises BasicAgent; the server waits for its config). */
  const enables = (name: string) => name === 'BootAgent';

  const rpmIn = async (root: string, args: string[]) => {
    const r = await shTry('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '--nodeps', ...args]);
    // A scriptlet failure is only a warning (rpm still exits 0): the output must not have one.
    expect(r.stderr, r.stderr).not.toMatch(/scriptlet failed|error:|warning:/);
    expect(r.code, r.stderr).toBe(0);
    return r;
  };
  const installed = async (root: string) =>
    (await shTry('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '-qa', '--qf', '%{NAME}-%{VERSION}\n'])).stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .sort();

  it('systemd running: install daemon-reloads (BootAgent: enable --now), upgrade try-restarts, erase disables --now', async () => {
    await timed('scriptlets: running (install, upgrade, erase per package)', async () => {
      const root = join(work, 'root-systemd');
      await makeScratchRoot(root);
      installSystemctlStandIn(root);
      setSystemdState(root, 'running');
      for (const name of NAMES) {
        const unit = UNIT[name]!;
        await rpmIn(root, ['-i', rpmFile(dist, name, V1)]);
        expect(takeCalls(root), `${name} first install`).toEqual([
          'is-system-running',
          'daemon-reload',
          ...(enables(name) ? [`enable --now ${unit}`] : []),
        ]);

        await rpmIn(root, ['-U', ...upgradeArgs(name)]);
        // New %post ($1 2): reload, no enable; old %preun ($1 1): nothing; old %postun ($1 1): reload, try-restart.
        const up = takeCalls(root);
        expect(up, `${name} upgrade`).toEqual([
          'is-system-running',
          'daemon-reload',
          'is-system-running',
          'daemon-reload',
          `try-restart ${unit}`,
        ]);
        expect(
          up.filter((c) => c.startsWith('enable') || c.includes('disable')),
          `${name} upgrade`,
        ).toEqual([]);

        await rpmIn(root, ['-e', name]);
        expect(takeCalls(root), `${name} erase`).toEqual([
          `--no-reload disable --now ${unit}`,
          'is-system-running',
          'daemon-reload',
        ]);
      }
      expect(await installed(root)).toEqual([]);
    });
  });

  it('systemd offline: first install only enables BootAgent (no --now, no daemon-reload); a systemctl failing every call fails no transaction', async () => {
    await timed('scriptlets: offline install, failing systemctl (install, upgrade, erase)', async () => {
      const root = join(work, 'root-systemd-offline');
      await makeScratchRoot(root);
      installSystemctlStandIn(root);
      setSystemdState(root, 'offline');
      for (const name of NAMES) {
        await rpmIn(root, ['-i', rpmFile(dist, name, V1)]);
        expect(takeCalls(root), `${name} first install, offline`).toEqual([
          'is-system-running',
          ...(enables(name) ? [`enable ${UNIT[name]}`] : []),
        ]);
      }

      // Every call exits 1, while is-system-running still says "running": each scriptlet takes
      // its running branch and every systemctl call in it fails. rpm must still exit 0.
      setSystemdState(root, 'running', { fail: true });
      await rpmIn(root, ['-U', ...NAMES.flatMap(upgradeArgs)]);
      expect(await installed(root)).toEqual([`BasicAgent-${V1}`, `BootAgent-${V2}`, `aspire-server-${V1}`]);
      const up = takeCalls(root);
      for (const unit of Object.values(UNIT))
        expect(up, 'upgrade with failing systemctl').toContain(`try-restart ${unit}`);

      await rpmIn(root, ['-e', ...NAMES]);
      expect(await installed(root)).toEqual([]);
      const erased = takeCalls(root);
      for (const unit of Object.values(UNIT))
        expect(erased, 'erase with failing systemctl').toContain(`--no-reload disable --now ${unit}`);

      await rpmIn(root, ['-i', ...NAMES.map((n) => rpmFile(dist, n, V1))]);
      expect(await installed(root)).toEqual([`BasicAgent-${V1}`, `BootAgent-${V1}`, `aspire-server-${V1}`]);
      const fresh = takeCalls(root);
      expect(fresh, 'first install with failing systemctl').toContain('enable --now bootagent.service');
      expect(
        fresh.filter((c) => c === 'daemon-reload'),
        'first install with failing systemctl',
      ).toHaveLength(3);
    });
  });
});

describe('aarch64 RPM', () => {
  it('same layout, rpm -K, rpmlint clean; installs with --ignorearch and the installed boot runs under qemu', async () => {
    const rpm = rpmFile(distArm, 'BootAgent', V1, 'aarch64');
    expect((await sh('rpm', ['-qpl', rpm])).stdout.trim().split('\n')).toEqual(LAYOUT.BootAgent);
    expect((await sh('rpm', ['-qp', '--qf', '%{ARCH} %{PAYLOADCOMPRESSOR}', rpm])).stdout).toBe('aarch64 xz');
    expect((await sh('rpm', ['-K', rpm])).stdout).toMatch(/digests OK/);
    expect((await sh('rpm', ['-qp', '--requires', rpm])).stdout).toContain('ld-linux-aarch64.so.1()(64bit)');
    const lint = await shTry('rpmlint', ['-r', 'rpm/BootAgent.rpmlintrc', rpm]);
    expect(lint.stdout, lint.stdout).toMatch(/ 0 errors, /);
    const root = join(work, 'root-aarch64');
    await makeScratchRoot(root);
    const r = await shTry('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '-i', '--nodeps', '--ignorearch', rpm]);
    expect(r.code, r.stderr).toBe(0);
    const v = await shTry('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '-V', '--nodeps', 'BootAgent']);
    expect(v.stdout).toBe('');
    const qemu = (args: string[]) =>
      sh('qemu-aarch64-static', ['-L', '/usr/aarch64-linux-gnu', join(root, 'usr/bin/boot'), ...args]);
    expect((await qemu(['--version'])).stdout.trim()).toBe(versionLine('boot', V1, 'aarch64'));
    expect((await qemu(['-T', '-c', join(root, 'etc/bootagent/boot.json')])).stdout).toMatch(/is valid/);
  });
});

describe('end-to-end flows on the binaries from the RPM payload', () => {
  let saved: string | undefined;
  beforeAll(() => {
    saved = process.env.ASPIRE_BIN_DIR;
    process.env.ASPIRE_BIN_DIR = payloadBin;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.ASPIRE_BIN_DIR;
    else process.env.ASPIRE_BIN_DIR = saved;
  });

  it('register, status, config job, kill -9 recovery', async () => {
    const srv = await startAspire();
    const first = await startBoot({ serverUrl: srv.url, enrollSecret: srv.enrollSecret, step: 1 });
    let boot = first;
    try {
      expect(boot.child.proc.spawnfile).toBe(join(payloadBin, 'boot'));
      const meta = await waitUntil(() => (boot.readMeta()?.trusted ? boot.readMeta() : undefined), {
        timeoutMs: 30_000,
        what: 'agentsn trusted',
      });
      const sn = meta.agentsn;
      const host = await waitUntil(
        async () => {
          const h = (await srv.api('GET', `/api/v1/server/agent?agentsn=${sn}`)).body.host;
          return h?.status === 'online' ? h : undefined;
        },
        { timeoutMs: 30_000, what: 'host online' },
      );
      expect(host).toMatchObject({ agentsn: sn, arch: 'x86_64' });
      expect(String(host.curvers)).toContain(V1);

      const configTask = async (step: number) => {
        const created = await srv.api('POST', '/api/v1/server/task', {
          command: 'config',
          agents: [sn],
          parameters: { step },
        });
        expect(created.status).toBe(200);
        const id = created.body.id as number;
        return waitUntil(
          async () => {
            const t = (await srv.api('GET', `/api/v1/server/task?id=${id}`)).body;
            const sub = t.subtasks?.[0];
            return sub && ['SUCCESS', 'FAILED'].includes(sub.state) ? sub : undefined;
          },
          { timeoutMs: 30_000, what: `config task ${id} done` },
        );
      };
      expect(await configTask(2)).toMatchObject({ state: 'SUCCESS', errcode: 0 });

      // kill -9, start again on the same state dir: same AgentSN, pushes resume, jobs still run.
      await boot.kill9();
      boot = await startBoot({
        serverUrl: srv.url,
        enrollSecret: srv.enrollSecret,
        step: 1,
        stateDir: boot.stateDir,
        logFile: boot.logFile,
      });
      await waitUntil(() => boot.readMeta()?.agentsn === sn && boot.readMeta()?.trusted, {
        timeoutMs: 30_000,
        what: 'same agentsn after kill -9',
      });
      expect(await configTask(1)).toMatchObject({ state: 'SUCCESS', errcode: 0 });
      const hosts = (await srv.api('GET', '/api/v1/server/host')).body;
      expect(JSON.stringify(hosts)).toContain(sn);
    } finally {
      await boot.stop().catch(() => undefined);
      boot.cleanup();
      first.cleanup();
      await srv.stop();
    }
  });

  it('BasicAgent over TLS to the hub: sync.bash through the channel', async () => {
    const ca = makeTestCa();
    const srv = await startAspire({ hub: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile } });
    const agent = await startBasicAgent({ port: srv.hubAddress!.port, caFile: ca.caCertFile, hostname: 'pkg-basic' });
    try {
      expect(agent.child.proc.spawnfile).toBe(join(payloadBin, 'BasicAgent'));
      const ask = (body: Record<string, unknown>) =>
        srv.api('POST', '/api/v1/server/polaris', { hosts: ['pkg-basic'], ...body });
      expect((await ask({ method: 'sync.bash', cmd: 'echo hi' })).body.response[0]).toMatchObject({
        resp: 'success',
        data: 'hi\n',
      });
    } finally {
      await agent.stop();
      await srv.stop();
      ca.cleanup();
    }
  });
});
