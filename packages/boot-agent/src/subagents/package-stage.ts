/**
 * Turn a verified download into a version directory: STATE/agents/NAME/versions/VERSION/.
 * A .tar.gz is extracted into a staging directory beside it and renamed into place only when
 * its agent.json parses (so a bad package leaves nothing behind). An .rpm is only inspected
 * here; `rpm -U` runs when the manager activates it.
 */
import {
  closeSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isDiskFull } from '@aspire/agent-core';
import { fsJobError, JobError } from './job-error.ts';
import { rpmQuery, type RpmOptions, type RpmInfo } from './rpm.ts';
import { parseRunSpec, RUN_SPEC_FILE, RunSpecError, type RunSpec } from './run-spec.ts';

export type PackageType = 'tar' | 'rpm';

export function sniff(path: string): PackageType | undefined {
  const fd = openSync(path, 'r');
  const b = Buffer.alloc(4);
  try {
    readSync(fd, b, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (b[0] === 0x1f && b[1] === 0x8b) return 'tar';
  if (b[0] === 0xed && b[1] === 0xab && b[2] === 0xee && b[3] === 0xdb) return 'rpm';
  return undefined;
}

export function readSpecFile(path: string, what: string): RunSpec {
  let raw: unknown;
  try {
    // A regular file only: a package's agent.json symlinked to a host file must not be read
    // (the parse error would echo its content into the job result).
    if (!lstatSync(path).isFile()) throw new Error('not a regular file');
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const reason =
      err instanceof SyntaxError ? 'not valid JSON' : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
    throw new JobError('JOB_BAD_PACKAGE', `${what}: ${RUN_SPEC_FILE} is missing or unreadable (${reason})`);
  }
  try {
    return parseRunSpec(raw);
  } catch (err) {
    if (err instanceof RunSpecError) throw new JobError('JOB_BAD_PACKAGE', `${what}: ${err.message}`);
    throw err;
  }
}

interface StagedCommon {
  version: string;
  /** Final version dir (exists for tar; created on activation for rpm). */
  dir: string;
  /** Undo staging (remove the version dir if this staging created it). */
  discard(): void;
}

/**
 * A staged package. A tar's run spec is read at staging; an rpm's comes from its payload after
 * `rpm -U` (activation), so a staged rpm has none yet.
 */
export type Staged =
  | (StagedCommon & { type: 'tar'; spec: RunSpec })
  | (StagedCommon & { type: 'rpm'; rpm: RpmInfo & { file: string } });

function checkIdentity(
  name: string,
  jobVersion: string | undefined,
  specName: string | undefined,
  version: string,
): void {
  if (specName && specName !== name)
    throw new JobError('JOB_BAD_PACKAGE', `package is for ${specName}, the job names ${name}`);
  if (jobVersion && jobVersion !== version)
    throw new JobError('JOB_BAD_PACKAGE', `package has version ${version}, the job asks for ${jobVersion}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$/.test(version))
    throw new JobError('JOB_BAD_PACKAGE', `version ${JSON.stringify(version)} is not a valid version`);
}

export async function stagePackage(opts: {
  file: string;
  name: string;
  jobVersion?: string | undefined;
  versionsDir: string;
  rpm: RpmOptions;
  protect: string[];
}): Promise<Staged> {
  const type = sniff(opts.file);
  if (!type) throw new JobError('JOB_BAD_PACKAGE', 'package is neither a .tar.gz nor an .rpm');
  mkdirSync(opts.versionsDir, { recursive: true });
  if (type === 'rpm') {
    const info = await rpmQuery(opts.rpm, opts.file, false);
    if (info.name !== opts.name)
      throw new JobError('JOB_BAD_PACKAGE', `rpm is ${info.name}, the job names ${opts.name}`);
    const staging = join(opts.versionsDir, `.staging-${randomBytes(6).toString('hex')}`);
    mkdirSync(staging, { recursive: true });
    // The spec is read from the package payload later (after rpm -U); keep the rpm for rollback.
    try {
      copyFileSync(opts.file, join(staging, 'package.rpm'));
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      throw fsJobError(err, 'staging rpm');
    }
    const dir = join(opts.versionsDir, info.version);
    checkIdentity(opts.name, opts.jobVersion, info.name, info.version);
    const existed = existsSync(dir);
    if (existed && !opts.protect.includes(info.version)) rmSync(dir, { recursive: true, force: true });
    if (!existsSync(dir)) renameSync(staging, dir);
    else {
      copyFileSync(join(staging, 'package.rpm'), join(dir, 'package.rpm'));
      rmSync(staging, { recursive: true, force: true });
    }
    return {
      type,
      version: info.version,
      dir,
      rpm: { ...info, file: join(dir, 'package.rpm') },
      discard: () => {
        if (!opts.protect.includes(info.version)) rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const staging = join(opts.versionsDir, `.staging-${randomBytes(6).toString('hex')}`);
  mkdirSync(staging, { recursive: true });
  try {
    // Loaded here only: a package install is rare, an idle boot need not carry tar.
    const tar = await import('tar');
    await tar.x({ file: opts.file, cwd: staging, strict: true, preservePaths: false, preserveOwner: false });
    const spec = readSpecFile(join(staging, RUN_SPEC_FILE), 'package');
    checkIdentity(opts.name, opts.jobVersion, spec.name, spec.version);
    const dir = join(opts.versionsDir, spec.version);
    if (opts.protect.includes(spec.version)) {
      // Re-installing the running version: keep its files, the processes use them.
      rmSync(staging, { recursive: true, force: true });
      return { type, version: spec.version, spec, dir, discard: () => {} };
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    return { type, version: spec.version, spec, dir, discard: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    if (err instanceof JobError) throw err;
    if (isDiskFull(err)) throw fsJobError(err, 'extracting package');
    throw new JobError('JOB_BAD_PACKAGE', `cannot extract package: ${(err as Error).message}`);
  }
}
