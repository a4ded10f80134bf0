/**
 * The self-upgrade marker: STATE/self-upgrade/marker.json, written atomically BEFORE each step of
 * a BootAgent upgrade (docs/lifecycle.md "BootAgent self-upgrade"). Whichever boot starts next
 * (the new one after an exec, the old one restarted by systemd after a crash or kill -9) reads it
 * and finishes or rolls back the step it names, so the job's result always matches what runs.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeJsonAtomicSync } from '@aspire/agent-core';

export const SELF_UPGRADE_DIR = 'self-upgrade';

/**
 * fetch: downloading, verifying, staging (the old version runs; the executable is untouched).
 * trial: the new version was exec'd from its staged copy (same pid) and runs its health window;
 *   the executable systemd starts is still the old one, so any death brings the old one back.
 * commit: the new version passed; it is being put in place of the executable (binary swap with
 *   the previous kept beside it, or rpm -U), then exec'd from there.
 * rollback: the new version failed its window; the old one is being exec'd again.
 */
export const SELF_UPGRADE_STEPS = ['fetch', 'trial', 'commit', 'rollback'] as const;
export type SelfUpgradeStep = (typeof SELF_UPGRADE_STEPS)[number];

/** How this BootAgent was installed, and so how the new version is put in place. */
export type InstallKind = 'binary' | 'rpm';

export interface SelfUpgradeMarker {
  version: 1;
  jobId: string;
  step: SelfUpgradeStep;
  kind: InstallKind;
  /** The version that ran before the upgrade. */
  from: string;
  /** The version asked for (the job's), then the one the package says it is. */
  to?: string;
  /** The executable systemd (or any supervisor) starts: what a swap replaces. */
  target: string;
  /** The staged new executable (step trial on): the trial runs from it until the commit. */
  staged?: string;
  /** Execs done for this job so far (a bound against a loop between versions). */
  hops?: number;
  /** Wall ms the step began. */
  at: number;
  /** Wall ms the health window ends (step trial). */
  deadline?: number;
  /** Why the upgrade is rolled back (step rollback). */
  reason?: string;
}

export function selfUpgradeDir(stateDir: string): string {
  return join(stateDir, SELF_UPGRADE_DIR);
}

export function markerFile(stateDir: string): string {
  return join(selfUpgradeDir(stateDir), 'marker.json');
}

/** Written whole before the step runs; throws when it cannot be (the step must not run then). */
export function writeMarker(stateDir: string, m: SelfUpgradeMarker): void {
  mkdirSync(selfUpgradeDir(stateDir), { recursive: true, mode: 0o700 });
  writeJsonAtomicSync(markerFile(stateDir), m, 0o600);
}

export function removeMarker(stateDir: string): void {
  rmSync(markerFile(stateDir), { force: true });
}

export type MarkerRead = { kind: 'none' } | { kind: 'ok'; marker: SelfUpgradeMarker } | { kind: 'bad'; error: string };

export function readMarker(stateDir: string): MarkerRead {
  const r = readJsonFile<SelfUpgradeMarker>(markerFile(stateDir));
  if (r.kind === 'missing') return { kind: 'none' };
  if (r.kind === 'corrupt') return { kind: 'bad', error: r.error };
  const m = r.value;
  const ok =
    m !== null &&
    typeof m === 'object' &&
    m.version === 1 &&
    typeof m.jobId === 'string' &&
    (SELF_UPGRADE_STEPS as readonly string[]).includes(m.step) &&
    (m.kind === 'binary' || m.kind === 'rpm') &&
    typeof m.from === 'string' &&
    (m.to === undefined || typeof m.to === 'string') &&
    typeof m.target === 'string' &&
    typeof m.at === 'number' &&
    (m.deadline === undefined || typeof m.deadline === 'number') &&
    (m.staged === undefined || typeof m.staged === 'string') &&
    (m.hops === undefined || typeof m.hops === 'number');
  return ok ? { kind: 'ok', marker: m } : { kind: 'bad', error: 'not a valid self-upgrade marker' };
}
