// The BootAgent upgrading itself where it came from its rpm: the BootAgent rpms of two versions
// (scripts/package.sh, gzip payload to keep the build short) installed into a scratch root
// (rpm --root, as test/e2e/packaging.test.ts does; BOOT_RPM_ROOT/BOOT_RPM_DBPATH tell boot where
// its package database is), boot run from ROOT/usr/bin/boot under a Restart=always loop against
// the real server. An upgrade job with the B rpm: rpm -q says B, the executable is B, boot reports
// B; the bare executable instead of the rpm is refused; kill -9 while the rpm is put in place
// still ends in one BootAgent whose rpm, executable and result agree. docs/lifecycle.md
// "BootAgent self-upgrade". Needs root (rpm --root, mknod), rpmbuild, rpm2cpio and cpio.
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import { startAspire, waitUntil, type AspireHandle } from '@aspire/testing';
import {
  LogWatch,
  NODE,
  ROOT,
  Supervisor,
  bootPids,
  buildBundle,
  createTask,
  exec,
  finalSubtask,
  hostOf,
  uploadPackage,
  versionOf,
  waitTrusted,
  writeBootConfig,
} from './self-upgrade-kit.ts';

const A = '7.1.0';
const B = '7.2.0';
const RPM_DB = '/var/lib/rpm';

let work: string;
let srv: AspireHandle;
let sup: Supervisor;
let root: string;
let target: string;
let stateDir: string;
let agentsn: string;
let log: LogWatch;
const rpms: Record<string, string> = {};
const bins: Record<string, string> = {};

const rpmIn = (...args: string[]) => exec('rpm', ['--root', root, '--dbpath', RPM_DB, ...args], { timeout: 120_000 });
const installedVersion = async () => (await rpmIn('-q', '--qf', '%{VERSION}', 'BootAgent')).stdout.trim();

/**
 * The smallest root rpm --root can install BootAgent into: /bin/sh (the scriptlets') with its
 * libc, /dev/null, and a stub package providing what the BootAgent rpm requires from the OS
 * (libc, libstdc++, logrotate, /bin/sh), so `rpm -U` checks dependencies as on a real host.
 */
async function makeRoot(requires: string[]): Promise<void> {
  for (const d of ['bin', 'lib/x86_64-linux-gnu', 'lib64', 'dev', 'etc', 'tmp', 'var/tmp'])
    mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/dash', join(root, 'bin/sh'));
  chmodSync(join(root, 'bin/sh'), 0o755);
  copyFileSync('/lib/x86_64-linux-gnu/libc.so.6', join(root, 'lib/x86_64-linux-gnu/libc.so.6'));
  copyFileSync('/lib64/ld-linux-x86-64.so.2', join(root, 'lib64/ld-linux-x86-64.so.2'));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await exec('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3']);
  const top = join(work, 'stub');
  mkdirSync(join(top, 'SPECS'), { recursive: true });
  const provides = requires
    .filter((r) => !r.startsWith('rpmlib(') && !r.startsWith('config('))
    .map((r) => `Provides: ${r}`);
  writeFileSync(
    join(top, 'SPECS', 'stub.spec'),
    [
      'Name: selfup-os-stub',
      'Version: 1',
      'Release: 1',
      'Summary: what the BootAgent rpm needs from the OS (test stand-in)',
      'License: none',
      'BuildArch: noarch',
      'AutoReqProv: no',
      ...provides,
      '%description',
      'Test stand-in.',
      '%files',
      '',
    ].join('\n'),
  );
  await exec('rpmbuild', ['-bb', '--quiet', '--define', `_topdir ${top}`, join(top, 'SPECS', 'stub.spec')], {
    timeout: 120_000,
  });
  await rpmIn('-i', join(top, 'RPMS', 'noarch', 'selfup-os-stub-1-1.noarch.rpm'));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aspire-selfup-rpm-'));
  const t0 = Date.now();
  for (const v of [A, B]) {
    const dist = join(work, `dist-${v}`);
    const bundle = await buildBundle(join(work, `build-${v}`), v);
    await exec('bash', ['scripts/package.sh', 'BootAgent', `${v}-1`], {
      cwd: ROOT,
      env: {
        ...process.env,
        PATH: `${join(NODE, '..')}:${process.env.PATH}`,
        DIST: dist,
        ARCHES: 'x86_64',
        RPM_ARCHES: 'x86_64',
        BUNDLE_DIR: bundle,
        BOOT_SERVER_ADDR: '',
        RPM_PAYLOAD: 'w1.gzdio',
      },
      timeout: 900_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    rpms[v] = join(dist, `BootAgent-${v}-1.x86_64.rpm`);
    bins[v] = join(dist, 'bin', 'x86_64', 'boot');
  }
  console.error(`boot-self-upgrade-rpm: two BootAgent rpms built in ${(Date.now() - t0) / 1000} s`);

  root = join(work, 'root');
  const requires = (await exec('rpm', ['-qp', '--requires', rpms[A]!])).stdout.split('\n').filter(Boolean);
  await makeRoot([...new Set(requires)]);
  await rpmIn('-i', rpms[A]!);
  target = join(root, 'usr/bin/boot');
  expect(await versionOf(target)).toBe(A);

  srv = await startAspire();
  await uploadPackage(srv, 'BootAgent', B, rpms[B]!, `BootAgent-${B}-1.x86_64.rpm`);
  await uploadPackage(srv, 'BootAgent', A, rpms[A]!, `BootAgent-${A}-1.x86_64.rpm`);
  await uploadPackage(srv, 'BootAgent', '7.2.1', bins[B]!, 'boot-bare');

  const hostDir = join(work, 'host');
  mkdirSync(hostDir, { recursive: true });
  stateDir = join(hostDir, 'state');
  const logFile = join(hostDir, 'boot.log');
  log = new LogWatch(logFile);
  const config = join(hostDir, 'boot.json');
  writeBootConfig(config, srv, 40);
  sup = new Supervisor(target, ['-f', '-c', config, '-d', stateDir, '-L', logFile, '-P', join(hostDir, 'boot.pid')], {
    ...process.env,
    BOOT_RPM_ROOT: root,
    BOOT_RPM_DBPATH: RPM_DB,
  });
  sup.start();
  agentsn = await waitTrusted(stateDir);
}, 900_000);

afterAll(async () => {
  await sup?.stop();
  await srv?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** One BootAgent, from ROOT/usr/bin/boot, and the rpm, the executable and the server all say `version`. */
async function expectSettled(version: string): Promise<void> {
  const pid = await waitUntil(
    async () => {
      const pids = bootPids(stateDir);
      if (pids.length !== 1) return undefined;
      return (await hostOf(srv, agentsn)).curvers === `bootagent-${version}-x86_64` ? pids[0] : undefined;
    },
    { timeoutMs: 90_000, what: `one boot reporting ${version}` },
  );
  expect(pid).toBe(sup.pid);
  expect(readlinkSync(`/proc/${pid}/exe`)).toBe(target);
  expect(await versionOf(target)).toBe(version);
  expect(await installedVersion()).toBe(version);
  // The package's files as rpm installed them (the executable is the rpm's, not a copy of ours).
  await expect(rpmIn('-V', 'BootAgent')).resolves.toBeDefined();
  expect(() => readFileSync(join(stateDir, 'self-upgrade', 'marker.json'))).toThrow();
}

describe('BootAgent self-upgrade where boot came from its rpm', { timeout: 240_000 }, () => {
  it('the B rpm is installed with rpm -U after the health gate: rpm, executable and server say B', async () => {
    const pid = sup.pid;
    const s = await finalSubtask(srv, await createTask(srv, agentsn, 'upgrade', { name: 'BootAgent', version: B }));
    expect(s.state, s.message).toBe('SUCCESS');
    await expectSettled(B);
    expect(sup.pid).toBe(pid);
  });

  it('the bare executable for an rpm-installed boot is refused, nothing changes', async () => {
    const s = await finalSubtask(
      srv,
      await createTask(srv, agentsn, 'upgrade', { name: 'BootAgent', version: '7.2.1' }),
    );
    expect(s.state).toBe('FAILED');
    expect(s.errcode, s.message).toBe(ErrorCode.JOB_BAD_PACKAGE);
    expect(s.message).toMatch(/installed by rpm/);
    await expectSettled(B);
  });

  it('kill -9 while the rpm is put in place (back to A): one BootAgent, rpm and result agree', async () => {
    log.mark();
    const id = await createTask(srv, agentsn, 'upgrade', { name: 'BootAgent', version: A });
    await log.wait(/putting it in place/);
    process.kill(sup.pid, 'SIGKILL');
    const s = await finalSubtask(srv, id);
    console.error(`boot-self-upgrade-rpm: kill in the commit: ${s.state} ${s.errcode} ${s.message}`);
    await expectSettled(s.state === 'SUCCESS' ? A : B);
  });
});
