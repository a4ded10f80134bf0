/**
 * Putting a new BootAgent where systemd starts it, only after it proved healthy: a binary swap
 * (the previous executable kept beside it as FILE.previous, the new one renamed over FILE in one
 * step), or `rpm -U` of the verified package when the BootAgent came from an rpm. Each is
 * idempotent: a boot killed half-way repeats it on its next start.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, openSync, readSync, renameSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { JobError } from '../subagents/job-error.ts';
import { execFileText, rpmArgs, type RpmOptions } from '../subagents/rpm.ts';

export const BOOT_RPM_NAME = 'BootAgent';
/** Skip the old package's %postun: its try-restart would stop the boot that runs rpm (docs/lifecycle.md). */
const RPM_UPGRADE_ARGS = ['-U', '--replacepkgs', '--oldpackage', '--nopostun'];

export function previousFile(target: string): string {
  return `${target}.previous`;
}

/** Hashed in 1 MiB reads: a 100 MB executable never sits whole in a small daemon's memory. */
function sha256(file: string): string {
  const h = createHash('sha256');
  const buf = Buffer.alloc(1 << 20);
  const fd = openSync(file, 'r');
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Copy then rename in the target's directory: the target is either whole old or whole new. */
function copyAtomic(from: string, to: string, mode: number): void {
  const tmp = join(dirname(to), `.${basename(to)}.tmp-${process.pid}`);
  copyFileSync(from, tmp);
  chmodSync(tmp, mode);
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, to);
}

/** FILE.previous <- FILE, then FILE <- staged. A target already equal to staged is left alone. */
export function swapBinary(target: string, staged: string): void {
  if (!existsSync(staged)) return;
  if (existsSync(target) && sha256(target) === sha256(staged)) return;
  try {
    if (existsSync(target)) copyAtomic(target, previousFile(target), 0o755);
    copyAtomic(staged, target, 0o755);
  } catch (err) {
    throw new JobError(
      'JOB_INSTALL_FAILED',
      `cannot put the new BootAgent in place of ${target}: ${(err as Error).message}`,
    );
  }
}

/** NAME and VERSION of the installed package owning FILE, or undefined (not from an rpm, no rpm). */
export async function rpmOwner(o: RpmOptions, file: string): Promise<{ name: string; version: string } | undefined> {
  // Under --root, rpm knows the file by its path inside the root.
  const inRoot = o.root ? relative(o.root, file) : file;
  if (o.root && (inRoot.startsWith('..') || isAbsolute(inRoot))) return undefined;
  const path = o.root ? `/${inRoot}` : file;
  const r = await execFileText(o.bin ?? 'rpm', [...rpmArgs(o), '-qf', '--qf', '%{NAME}\\n%{VERSION}\\n', path], {
    timeoutMs: 60_000,
  });
  if (r.code !== 0) return undefined;
  const [name, version] = r.stdout.split('\n');
  return name && version ? { name, version } : undefined;
}

/** NAME and VERSION of a package file; JOB_BAD_PACKAGE when rpm cannot read it. */
export async function rpmPackageInfo(o: RpmOptions, file: string): Promise<{ name: string; version: string }> {
  const r = await execFileText(o.bin ?? 'rpm', [...rpmArgs(o), '-qp', '--qf', '%{NAME}\\n%{VERSION}\\n', file], {
    timeoutMs: 60_000,
  });
  const [name, version] = r.stdout.split('\n');
  if (r.code !== 0 || !name || !version)
    throw new JobError('JOB_BAD_PACKAGE', `rpm cannot read the package: ${r.stderr.trim().slice(0, 300)}`);
  return { name, version };
}

/** Extract the package's usr/bin/boot into DIR (rpm2cpio | cpio, no shell). */
export async function extractBootFromRpm(file: string, dir: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const r2c = spawn('rpm2cpio', [file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const cpio = spawn('cpio', ['-idm', '--quiet', './usr/bin/boot'], { cwd: dir, stdio: ['pipe', 'ignore', 'pipe'] });
    r2c.stdout.pipe(cpio.stdin);
    let err = '';
    r2c.stderr.on('data', (c: Buffer) => (err += c.toString()));
    cpio.stderr.on('data', (c: Buffer) => (err += c.toString()));
    r2c.on('error', reject);
    cpio.on('error', reject);
    cpio.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`rpm2cpio | cpio exited ${code}: ${err.trim().slice(0, 300)}`)),
    );
  }).catch((e: Error) => {
    throw new JobError('JOB_BAD_PACKAGE', `cannot extract usr/bin/boot from the package: ${e.message}`);
  });
  const out = join(dir, 'usr/bin/boot');
  if (!existsSync(out)) throw new JobError('JOB_BAD_PACKAGE', 'the package carries no usr/bin/boot: not a BootAgent');
  return out;
}

/** rpm -U the package unless the installed BootAgent already is that version. */
export async function rpmUpgrade(o: RpmOptions, pkg: string, version: string): Promise<void> {
  const r = await execFileText(o.bin ?? 'rpm', [...rpmArgs(o), '-q', '--qf', '%{VERSION}', BOOT_RPM_NAME], {
    timeoutMs: 60_000,
  });
  if (r.code === 0 && r.stdout.trim() === version) return;
  const u = await execFileText(o.bin ?? 'rpm', [...rpmArgs(o), ...RPM_UPGRADE_ARGS, pkg], { timeoutMs: 600_000 });
  if (u.code !== 0)
    throw new JobError('JOB_INSTALL_FAILED', `rpm -U ${basename(pkg)} failed: ${u.stderr.trim().slice(0, 1000)}`);
}
