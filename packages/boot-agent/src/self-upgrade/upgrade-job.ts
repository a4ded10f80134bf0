/**
 * The `upgrade` job naming `BootAgent`, in the old version: marker `fetch`, download + SHA-256
 * check like any package, stage the new executable in the state dir and ask it what it is
 * (`--version`: a BootAgent of the job's version and this host's arch, or the package is refused
 * JOB_BAD_PACKAGE with a `refused` event), then marker `trial` and exec the staged copy. The job
 * stays `started` in the journal: the version that runs at the end reports it.
 */
import { chmodSync, copyFileSync, mkdirSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, errorMessage, type SubAgentJob } from '@aspire/protocol';
import type { JobOutcome } from '../contracts.ts';
import { machineArch } from '../loop/status-body.ts';
import { download, redact } from '../subagents/download.ts';
import { JobError, fsJobError } from '../subagents/job-error.ts';
import { sniff } from '../subagents/package-stage.ts';
import { readMarker, removeMarker, writeMarker, type InstallKind, type SelfUpgradeMarker } from './marker.ts';
import { BOOT_RPM_NAME, extractBootFromRpm, rpmOwner, rpmPackageInfo } from './put-in-place.ts';
import { execCommand, probeBootAgent } from './self-image.ts';
import type { SelfUpgrade } from './self-upgrade.ts';

export async function runSelfUpgradeJob(
  su: SelfUpgrade,
  job: SubAgentJob,
  signal: AbortSignal,
  stop: AbortSignal,
): Promise<JobOutcome> {
  const busy = readMarker(su.d.stateDir);
  if (busy.kind === 'ok')
    return fail(
      'JOB_INSTALL_FAILED',
      `a BootAgent self-upgrade is under way (job ${busy.marker.jobId}, step ${busy.marker.step})`,
    );
  if (!job.url)
    return fail(
      'JOB_INVALID',
      'upgrade of BootAgent: url is required (or name and version of a package on the server)',
    );
  const owner = await rpmOwner(su.d.rpm ?? {}, su.image.file);
  if (owner && owner.name !== BOOT_RPM_NAME)
    return fail('JOB_INSTALL_FAILED', `${su.image.file} belongs to the rpm ${owner.name}, not ${BOOT_RPM_NAME}`);
  const kind: InstallKind = owner ? 'rpm' : 'binary';
  const m: SelfUpgradeMarker = {
    version: 1,
    jobId: job.id,
    step: 'fetch',
    kind,
    from: su.version,
    ...(job.version !== undefined ? { to: job.version } : {}),
    target: su.image.file,
    at: su.d.clock.now(),
  };
  try {
    writeMarker(su.d.stateDir, m);
  } catch (err) {
    return outcomeOf(fsJobError(err, 'cannot write the self-upgrade marker; nothing was changed'));
  }
  su.note(m, 'fetch', `self-upgrade of BootAgent ${su.version} (${kind}): fetching ${redact(job.url)}`);
  let staged: { file: string; version: string };
  try {
    staged = await fetchAndStage(su, job, kind, signal);
  } catch (err) {
    su.cleanup();
    removeMarker(su.d.stateDir);
    const e = err instanceof JobError ? err : fsJobError(err, 'staging the new BootAgent');
    if (e.codeName === 'JOB_BAD_PACKAGE')
      su.emit('refused', `job ${job.id} (upgrade BootAgent) refused: ${e.message}`, {
        jobId: job.id,
        action: 'upgrade',
        errcode: e.errcode,
        code: e.codeName,
      });
    return outcomeOf(e);
  }
  const trial: SelfUpgradeMarker = {
    ...m,
    step: 'trial',
    to: staged.version,
    staged: staged.file,
    at: su.d.clock.now(),
    deadline: su.d.clock.now() + su.d.healthySec * 1000,
  };
  try {
    writeMarker(su.d.stateDir, trial);
  } catch (err) {
    su.cleanup();
    removeMarker(su.d.stateDir);
    return outcomeOf(fsJobError(err, 'cannot write the self-upgrade marker; nothing was changed'));
  }
  su.note(
    trial,
    'trial',
    `BootAgent ${staged.version} verified: running it in place of ${su.version} (same pid) for a health window of ${su.d.healthySec} s`,
  );
  su.exec({ ...execCommand(staged.file, su.image.launcher, su.d.args), why: `trial of BootAgent ${staged.version}` });
  // The agent stops for the exec; until the stop signal the job just waits (never a result here).
  await new Promise<void>((resolve) => {
    if (stop.aborted) resolve();
    else stop.addEventListener('abort', () => resolve(), { once: true });
  });
  return { errcode: ErrorCode.OK, message: `BootAgent ${staged.version} on trial`, resumeLater: true };
}

async function fetchAndStage(
  su: SelfUpgrade,
  job: SubAgentJob,
  kind: InstallKind,
  signal: AbortSignal,
): Promise<{ file: string; version: string }> {
  const tmpDir = join(su.dir, '.tmp');
  const newDir = join(su.dir, 'new');
  rmSync(newDir, { recursive: true, force: true });
  mkdirSync(newDir, { recursive: true, mode: 0o700 });
  const dl = await download(job.url!, job.checksum, {
    tmpDir,
    maxBytes: su.d.downloadMaxBytes,
    signal,
    ...(su.d.caFile ? { caFile: su.d.caFile } : {}),
  });
  let file: string;
  try {
    const type = sniff(dl.path);
    if (kind === 'rpm') {
      if (type !== 'rpm')
        throw new JobError(
          'JOB_BAD_PACKAGE',
          `not a BootAgent rpm: this BootAgent was installed by rpm (${su.image.file}), so its upgrade must be the ${BOOT_RPM_NAME} .rpm`,
        );
      const info = await rpmPackageInfo(su.d.rpm ?? {}, dl.path);
      if (info.name !== BOOT_RPM_NAME)
        throw new JobError('JOB_BAD_PACKAGE', `not a BootAgent: the rpm is ${info.name} ${info.version}`);
      const pkg = join(newDir, 'package.rpm');
      copyFileSync(dl.path, pkg);
      file = await extractBootFromRpm(pkg, newDir);
    } else {
      if (type === 'rpm')
        throw new JobError(
          'JOB_BAD_PACKAGE',
          `this BootAgent was not installed by rpm (${su.image.file} belongs to no package): send the boot executable, not an .rpm`,
        );
      file = join(newDir, su.image.launcher === 'node' ? 'boot.cjs' : 'boot');
      copyFileSync(dl.path, file);
      chmodSync(file, 0o755);
    }
  } finally {
    dl.remove();
  }
  const probe = await probeBootAgent(file, su.image.launcher);
  if (!probe.ok) throw new JobError('JOB_BAD_PACKAGE', probe.reason);
  const arch = machineArch();
  if (probe.probed.arch !== arch)
    throw new JobError('JOB_BAD_PACKAGE', `the package is a BootAgent for ${probe.probed.arch}, this host is ${arch}`);
  if (job.version !== undefined && probe.probed.version !== job.version)
    throw new JobError(
      'JOB_BAD_PACKAGE',
      `the package is BootAgent ${probe.probed.version}, the job asked for ${job.version}`,
    );
  return { file: realpathSync(file), version: probe.probed.version };
}

function fail(code: 'JOB_INVALID' | 'JOB_INSTALL_FAILED', message: string): JobOutcome {
  return { errcode: ErrorCode[code], message: `${errorMessage(ErrorCode[code])}: ${message}` };
}

function outcomeOf(e: JobError): JobOutcome {
  return { errcode: e.errcode, message: `${errorMessage(e.errcode)}: ${e.message}` };
}
