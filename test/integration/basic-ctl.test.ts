import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

const uidMin = Number(/^\s*UID_MIN\s+(\d+)/m.exec(readFileSync('/etc/login.defs', 'utf8'))?.[1] ?? 1000);

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
      expect([...u.groups].sort()).toEqual(execFileSync('id', ['-Gn', name!], { encoding: 'utf8' }).trim().split(/\s+/).sort());
    }
    // As root the /etc/shadow state is there, as `chage -l` shows it, for every account.
    const chageDate = (v: string) =>
      /^\d{4}-\d{2}-\d{2}$/.test(v)
        ? new Date(`${v}T00:00:00Z`).toLocaleDateString('en-US', { month: 'short', day: '2-digit', year: 'numeric', timeZone: 'UTC' })
        : v;
    for (const u of users) {
      const chage = execFileSync('chage', ['-l', u.name], { encoding: 'utf8', env: { LANG: 'C', PATH: process.env.PATH } });
      const field = (label: string) => new RegExp(`^${label}\\s*:\\s*(.*)$`, 'm').exec(chage)![1]!.trim();
      expect(chageDate(u.password.last_change), u.name).toBe(field('Last password change'));
      expect(chageDate(u.password.password_expires), u.name).toBe(field('Password expires'));
      expect(chageDate(u.password.password_inactive), u.name).toBe(field('Password inactive'));
      expect(chageDate(u.password.account_expires), u.name).toBe(field('Account expires'));
      expect(u.password.min_days ?? -1, u.name).toBe(Number(field('Minimum number of days between password change')));
      expect(u.password.max_days ?? -1, u.name).toBe(Number(field('Maximum number of days between password change')));
      expect(u.password.warn_days ?? -1, u.name).toBe(Number(field('Number of days of warning before password expires')));
    }
  });

  it('-u and -S split the accounts at UID_MIN; -U picks one', async () => {
    const all = await ctl('-c', 'getinfo.users', '-a', '-A');
    const normal = await ctl('-c', 'getinfo.users', '-a', '-u');
    const system = await ctl('-c', 'getinfo.users', '-a', '-S');
    expect(normal.every((u: { uid: number }) => u.uid >= uidMin)).toBe(true);
    expect(system.every((u: { uid: number }) => u.uid < uidMin)).toBe(true);
    expect(normal.length + system.length).toBe(all.length);
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

  it('every other collector answers JSON', async () => {
    for (const name of ['os', 'cpu', 'memory', 'disks', 'network', 'uptime', 'processes', 'ports', 'packages']) {
      const data = await ctl('-c', `getinfo.${name}`);
      expect(data, name).toBeTruthy();
    }
    const procs = await ctl('-c', 'getinfo.processes');
    expect(procs.some((p: { pid: number }) => p.pid === 1)).toBe(true);
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
