/**
 * The package steps of install and upgrade: download and verify (download.ts), stage
 * (package-stage.ts), activate (rpm -U for rpms), or a `command://` source that installs an
 * rpm itself. They put files in place and never touch the supervisor.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SubAgentJob } from '@aspire/protocol';
import { layout } from '../agent-state.ts';
import { download, redact } from '../download.ts';
import { JobError } from '../job-error.ts';
import { stagePackage, type Staged } from '../package-stage.ts';
import { execFileText, rpmInstall, rpmQuery } from '../rpm.ts';
import { RUN_SPEC_FILE, splitCommand, type RunSpec } from '../run-spec.ts';
import { specOf, type StepContext } from './step-context.ts';

/** Download + verify + stage a version beside the ones in `protect` (never overwritten). */
export async function fetchAndStage(
  ctx: StepContext,
  job: SubAgentJob,
  signal: AbortSignal,
  protect: string[],
): Promise<Staged> {
  const { deps } = ctx;
  if (!job.url) throw new JobError('JOB_INVALID', `${job.action}: url is required`);
  const dl = await download(job.url, job.checksum, {
    tmpDir: ctx.tmpDir,
    maxBytes: deps.config.downloadMaxBytes,
    signal,
    ...(deps.caFile ? { caFile: deps.caFile } : {}),
  });
  try {
    ctx.log.info({ agent: job.name, url: redact(job.url), bytes: dl.size }, 'package downloaded and verified');
    return await stagePackage({
      file: dl.path,
      name: job.name,
      jobVersion: job.version,
      versionsDir: layout(deps.stateDir, job.name).versionsDir,
      rpm: ctx.rpm,
      protect,
    });
  } finally {
    dl.remove();
  }
}

/** Put a staged package in place: rpm -U for rpms (then copy its spec beside it). */
export async function activate(ctx: StepContext, staged: Staged, signal: AbortSignal): Promise<RunSpec> {
  if (staged.type === 'tar') return staged.spec;
  const { rpm } = ctx;
  await rpmInstall(rpm, staged.rpm!.file, { oldpackage: true, signal });
  copyFileSync(join(rpm.root ?? '/', staged.rpm!.specPath), join(staged.dir, RUN_SPEC_FILE));
  const spec = specOf(ctx, staged.rpm!.name, staged.version);
  if (spec.version !== staged.version)
    ctx.log.warn(
      { spec: spec.version, rpm: staged.version },
      'agent.json version differs from the rpm version; the rpm version is reported',
    );
  return spec;
}

/** command://CMD (docs/supervision.md): run CMD as argv, no shell; the rpm it installs must carry agent.json. */
export async function runCommandSource(
  ctx: StepContext,
  job: SubAgentJob,
  signal: AbortSignal,
): Promise<{ version: string; spec: RunSpec }> {
  const { rpm } = ctx;
  const argv = splitCommand(job.url!.slice('command://'.length));
  if (argv.length === 0) throw new JobError('JOB_INVALID', 'command:// has no command');
  const r = await execFileText(argv[0]!, argv.slice(1), { timeoutMs: 1_800_000, signal });
  if (r.code !== 0)
    throw new JobError('JOB_INSTALL_FAILED', `${argv.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(-1000)}`);
  const info = await rpmQuery(rpm, job.name, true);
  const dir = layout(ctx.deps.stateDir, job.name).versionDir(info.version);
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(rpm.root ?? '/', info.specPath), join(dir, RUN_SPEC_FILE));
  return { version: info.version, spec: specOf(ctx, job.name, info.version) };
}
