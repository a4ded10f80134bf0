import { execFile, execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { binary } from '@aspire/testing';

// BasicAgentCtl runs the collectors in-process: the same JSON the channel sends.
const run = promisify(execFile);
const ctl = async (...args: string[]) => {
  const b = binary('BasicAgentCtl');
  const { stdout } = await run(b.cmd, [...b.args, ...args], { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout);
};
const ctlFails = async (...args: string[]) => {
  const b = binary('BasicAgentCtl');
  try {
    const r = await run(b.cmd, [...b.args, ...args]);
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

const loginDefs = readFileSync('/etc/login.defs', 'utf8');
const uidMin = Number(/^\s*UID_MIN\s+(\d+)/m.exec(loginDefs)?.[1] ?? 1000);
const uidMax = Number(/^\s*UID_MAX\s+(\d+)/m.exec(loginDefs)?.[1] ?? 60000);

describe('BasicAgentCtl getinfo', () => {
  it('getinfo.users -A matches getent passwd for every account', async () => {
    const getent = execFileSync('getent', ['passwd'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.split(':'));
    const users = await ctl('-c', 'getinfo.users', '-a', '-A');
    expect(users).toHaveLength(getent.length);
    for (const [name, , uid, gid, gecos, home, shell] of getent) {
      const u = users.find((x: { name: string }) => x.name === name);
      expect(u, name).toMatchObject({ name, uid: Number(uid), gid: Number(gid), gecos, home, shell });
      // id -Gn lists the same groups.
      expect([...u.groups].sort()).toEqual(
        execFileSync('id', ['-Gn', name!], { encoding: 'utf8' }).trim().split(/\s+/).sort(),
      );
    }
    // As root the /etc/shadow state is there, as `chage -l` shows it, for every account.
    const chageDate = (v: string) =>
      /^\d{4}-\d{2}-\d{2}$/.test(v)
        ? new Date(`${v}T00:00:00Z`).toLocaleDateString('en-US', {
            month: 'short',
            day: '2-digit',
            year: 'numeric',
            timeZone: 'UTC',
          })
        : v;
    for (const u of users) {
      const chage = execFileSync('chage', ['-l', u.name], {
        encoding: 'utf8',
        env: { LANG: 'C', PATH: process.env.PATH },
      });
      const field = (label: string) => new RegExp(`^${label}\\s*:\\s*(.*)$`, 'm').exec(chage)![1]!.trim();
      expect(chageDate(u.password.last_change), u.name).toBe(field('Last password change'));
      expect(chageDate(u.password.password_expires), u.name).toBe(field('Password expires'));
      expect(chageDate(u.password.password_inactive), u.name).toBe(field('Password inactive'));
      expect(chageDate(u.password.account_expires), u.name).toBe(field('Account expires'));
      expect(u.password.min_days ?? -1, u.name).toBe(Number(field('Minimum number of days between password change')));
      expect(u.password.max_days ?? -1, u.name).toBe(Number(field('Maximum number of days between password change')));
      expect(u.password.warn_days ?? -1, u.name).toBe(
        Number(field('Number of days of warning before password expires')),
      );
    }
  });

  it('-u is UID_MIN..UID_MAX of login.defs, -S the rest (root, nobody); -U picks one', async () => {
    const all = await ctl('-c', 'getinfo.users', '-a', '-A');
    const normal = await ctl('-c', 'getinfo.users', '-a', '-u');
    const system = await ctl('-c', 'getinfo.users', '-a', '-S');
    expect(normal.every((u: { uid: number; system: boolean }) => u.uid >= uidMin && u.uid <= uidMax && !u.system)).toBe(
      true,
    );
    expect(system.every((u: { uid: number; system: boolean }) => (u.uid < uidMin || u.uid > uidMax) && u.system)).toBe(
      true,
    );
    expect(normal.length + system.length).toBe(all.length);
    // nobody (65534 here, above UID_MAX) is a system account, as useradd classes it.
    const nobodyUid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
    expect(nobodyUid).toBeGreaterThan(uidMax);
    expect(normal.map((u: { name: string }) => u.name)).not.toContain('nobody');
    expect(system.find((u: { name: string }) => u.name === 'nobody')).toMatchObject({ uid: nobodyUid, system: true });
    const [root] = await ctl('-c', 'getinfo.users', '-a', '-U root');
    expect(root).toMatchObject({ name: 'root', uid: 0, system: true });
  });

  it('getinfo.kernel matches uname -r, -v, -m', async () => {
    const k = await ctl('-c', 'getinfo.kernel');
    const uname = (f: string) => execFileSync('uname', [f], { encoding: 'utf8' }).trim();
    expect(k.release).toBe(uname('-r'));
    expect(k.version).toBe(uname('-v'));
    expect(k.arch).toBe(uname('-m'));
    expect(k.cmdline).toBe(readFileSync('/proc/cmdline', 'utf8').trim());
  });

  // The collectors against the host's own view of the same facts (files and tools other than
  // the ones the collector uses where there is a choice).
  const sh = (cmd: string, args: string[]) =>
    execFileSync(cmd, args, { encoding: 'utf8', env: { LANG: 'C', PATH: process.env.PATH } });

  it('getinfo.os: the ID, VERSION_ID and NAME that /etc/os-release sets in a shell', async () => {
    const os = await ctl('-c', 'getinfo.os');
    const [id, versionId, name] = sh('bash', [
      '-c',
      '. /etc/os-release; printf "%s\\n" "$ID" "$VERSION_ID" "$NAME"',
    ]).split('\n');
    expect(os).toMatchObject({ platform: 'linux', id, version_id: versionId, name });
  });

  it('getinfo.memory: total and swap are /proc/meminfo MemTotal and SwapTotal', async () => {
    const m = await ctl('-c', 'getinfo.memory');
    const meminfo = readFileSync('/proc/meminfo', 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(meminfo)![1]) * 1024;
    expect(m.total).toBe(kb('MemTotal'));
    expect(m.swap_total).toBe(kb('SwapTotal'));
    expect(m.used).toBe(m.total - m.free);
    expect(m.available).toBeGreaterThan(0);
    expect(m.available).toBeLessThanOrEqual(m.total);
  });

  it('getinfo.cpu: logical CPUs as nproc counts them, cores and sockets as lscpu -p, a utilisation sample', async () => {
    const c = await ctl('-c', 'getinfo.cpu');
    // getconf is what nproc prints when no affinity mask narrows it.
    expect(c.logical).toBe(Number(sh('getconf', ['_NPROCESSORS_ONLN']).trim()));
    const rows = sh('lscpu', ['-p=CORE,SOCKET'])
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(c.cores).toBe(new Set(rows).size);
    expect(c.sockets).toBe(new Set(rows.map((r) => r.split(',')[1])).size);
    expect(c.arch).toBe(sh('uname', ['-m']).trim());
    expect(c.model).toBe(
      /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? c.model,
    );
    expect(c.usage.sample_ms).toBe(500);
    expect(c.usage.per_cpu).toHaveLength(c.logical);
    for (const v of [c.usage.busy, c.usage.idle, ...c.usage.per_cpu]) expect(v >= 0 && v <= 100, String(v)).toBe(true);
  });

  it('getinfo.disks: / with the size df prints and the inode count stat -f prints', async () => {
    const disks = await ctl('-c', 'getinfo.disks');
    const root = disks.find((d: { mount: string }) => d.mount === '/');
    expect(root).toBeTruthy();
    const [, blocks] = sh('df', ['-kP', '/']).trim().split('\n')[1]!.split(/\s+/);
    expect(root.size).toBe(Number(blocks) * 1024);
    expect(root.inodes).toBe(Number(sh('stat', ['-f', '-c', '%c', '/']).trim()));
    expect(root.used + root.available).toBeLessThanOrEqual(root.size);
    expect(root.rw).toBe(true);
  });

  it('getinfo.blockdevices: every disk lsblk lists, with its size in bytes', async () => {
    const devs = await ctl('-c', 'getinfo.blockdevices');
    const disks = sh('lsblk', ['-bdrno', 'NAME,TYPE,SIZE'])
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .filter(([, type]) => type === 'disk');
    expect(disks.length).toBeGreaterThan(0);
    for (const [name, , size] of disks) {
      expect(
        devs.find((d: { name: string }) => d.name === name),
        name,
      ).toMatchObject({ type: 'disk', size: Number(size), device: `/dev/${name}` });
    }
  });

  it('getinfo.network: lo and the default-route interface with every address and the MTU ip shows', async () => {
    const ifaces = await ctl('-c', 'getinfo.network');
    const dflt = /\bdev (\S+)/.exec(sh('ip', ['route', 'show', 'default']))?.[1];
    for (const name of ['lo', ...(dflt ? [dflt] : [])]) {
      const i = ifaces.find((x: { name: string }) => x.name === name);
      expect(i, name).toBeTruthy();
      expect(i.default).toBe(name === dflt);
      expect(i.mtu).toBe(Number(/ mtu (\d+)/.exec(sh('ip', ['-o', 'link', 'show', 'dev', name]))![1]));
      const ipAddrs = sh('ip', ['-o', 'addr', 'show', 'dev', name])
        .split('\n')
        .flatMap((l) => /\sinet6? (\S+)/.exec(l)?.[1] ?? []);
      expect(ipAddrs.length).toBeGreaterThan(0);
      expect(i.addresses.map((a: { cidr: string }) => a.cidr).sort()).toEqual(expect.arrayContaining(ipAddrs));
    }
  });

  it('getinfo.uptime: boot time is /proc/stat btime, uptime is /proc/uptime', async () => {
    const before = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const u = await ctl('-c', 'getinfo.uptime');
    const after = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    expect(u.uptime_seconds).toBeGreaterThanOrEqual(before);
    expect(u.uptime_seconds).toBeLessThanOrEqual(after);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
    expect(Math.abs(Date.parse(u.boot_time) / 1000 - btime)).toBeLessThanOrEqual(1);
    expect(u.timezone_name).toBeTruthy();
  });

  it('getinfo.processes: pid 1 and this test process with its ppid, uid, name and command line', async () => {
    const procs = await ctl('-c', 'getinfo.processes');
    expect(procs.some((p: { pid: number }) => p.pid === 1)).toBe(true);
    const me = procs.find((p: { pid: number }) => p.pid === process.pid);
    expect(me).toMatchObject({
      ppid: process.ppid,
      uid: process.getuid!(),
      name: readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim(),
      cmdline: readFileSync(`/proc/${process.pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' '),
    });
  });

  it('getinfo.ports: a TCP listener and a UDP socket this test binds on 127.0.0.1, owned by this pid', async () => {
    const tcp = createServer();
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    try {
      const ports = await ctl('-c', 'getinfo.ports');
      const comm = readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim();
      for (const [proto, port] of [
        ['tcp', (tcp.address() as AddressInfo).port],
        ['udp', udp.address().port],
      ] as const) {
        expect(
          ports.find((p: { proto: string; port: number }) => p.proto === proto && p.port === port),
          `${proto} ${port}`,
        ).toEqual({
          proto,
          address: '127.0.0.1',
          port,
          pid: process.pid,
          process: comm,
        });
      }
    } finally {
      tcp.close();
      udp.close();
    }
  });

  it('getinfo.packages: bash at the version dpkg-query or rpm reports', async () => {
    const p = await ctl('-c', 'getinfo.packages');
    const bash = p.packages.find((x: { name: string }) => x.name === 'bash');
    const version =
      p.manager === 'dpkg'
        ? sh('dpkg-query', ['-W', '-f', '${Version}', 'bash'])
        : sh('rpm', ['-q', '--qf', '%{VERSION}-%{RELEASE}', 'bash']);
    expect(bash?.version).toBe(version);
  });

  it('errors go to stderr with a non-zero exit and nothing on stdout', async () => {
    const unknown = await ctlFails('-c', 'getinfo.nothing');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/COLLECTOR_UNKNOWN/);
    const badArg = await ctlFails('-c', 'getinfo.users', '-a', '-X');
    expect(badArg.code).not.toBe(0);
    expect(badArg.stderr).toMatch(/COLLECTOR_BAD_ARGUMENT/);
    const noUser = await ctlFails('-c', 'getinfo.users', '-a', '-U no-such-user-xyz');
    expect(noUser.stderr).toMatch(/COLLECTOR_NOT_FOUND/);
    const usage = await ctlFails();
    expect(usage.code).toBe(2);
  });
});
