/**
 * The upgrade marker: DIR/NAME/upgrade.json, written atomically BEFORE each step of an upgrade
 * (fetch, activate, watch, commit, rollback) with the job id, the step, the old and the new
 * version and the old state to restore. A BootAgent killed in the middle (kill -9, crash,
 * power loss) finds it on its next start and finishes the step it was in (manager.ts
 * `resumeUpgrade`), so the job's reported result always matches what runs on the host: success
 * once the new version passed its health window, a rollback otherwise. Removed when the job ends.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeJsonAtomicSync } from '@aspire/agent-core';
import { layout, type AgentState } from './agent-state.ts';

export const UPGRADE_MARKER_FILE = 'upgrade.json';

/**
 * fetch: downloading and staging (the old version runs; nothing changed yet).
 * activate: old stopped, new put in place (rpm -U); state.json may still name the old version.
 * watch: state.json names the new version, started and watched until `watchUntil`.
 * commit: the new version passed; pruning old versions and reporting success.
 * rollback: restoring the old version (files, state, rpm) and starting it.
 */
export const UPGRADE_STEPS = ['fetch', 'activate', 'watch', 'commit', 'rollback'] as const;
export type UpgradeStep = (typeof UPGRADE_STEPS)[number];

export interface UpgradeMarker {
  version: 1;
  jobId: string;
  name: string;
  step: UpgradeStep;
  /** The version that ran before the upgrade. */
  from: string;
  /** The version being installed (the job's, until staging tells the package's). */
  to?: string;
  /** The agent's state before the upgrade: what a rollback restores. */
  snapshot: AgentState;
  /** Wall ms the step began. */
  at: number;
  /** Wall ms the health window ends (step watch). */
  watchUntil?: number;
  /** Why the upgrade is rolled back (step rollback). */
  reason?: string;
}

export function markerPath(stateDir: string, name: string): string {
  return join(layout(stateDir, name).root, UPGRADE_MARKER_FILE);
}

/** Written whole before the step runs; throws when it cannot be written (the step must not run). */
export function writeUpgradeMarker(stateDir: string, m: UpgradeMarker): void {
  writeJsonAtomicSync(markerPath(stateDir, m.name), m, 0o600);
}

export function removeUpgradeMarker(stateDir: string, name: string): void {
  rmSync(markerPath(stateDir, name), { force: true });
}

/** Markers left by upgrades that did not finish; unreadable ones are reported and skipped. */
export function readUpgradeMarkers(
  stateDir: string,
  onBad: (name: string, error: string) => void = () => {},
): UpgradeMarker[] {
  let names: string[];
  try {
    names = readdirSync(stateDir).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
  const out: UpgradeMarker[] = [];
  for (const name of names.sort()) {
    const r = readJsonFile<UpgradeMarker>(markerPath(stateDir, name));
    if (r.kind === 'missing') continue;
    if (r.kind === 'corrupt') {
      onBad(name, r.error);
      continue;
    }
    const m = r.value;
    const ok =
      m !== null &&
      typeof m === 'object' &&
      m.version === 1 &&
      typeof m.jobId === 'string' &&
      m.name === name &&
      (UPGRADE_STEPS as readonly string[]).includes(m.step) &&
      typeof m.from === 'string' &&
      (m.to === undefined || typeof m.to === 'string') &&
      typeof m.snapshot === 'object' &&
      m.snapshot !== null &&
      m.snapshot.name === name &&
      m.snapshot.current === m.from;
    if (ok) out.push(m);
    else onBad(name, 'not a valid upgrade marker');
  }
  return out;
}

/** Job ids of unfinished upgrades (the journal keeps them `started` for the manager to finish). */
export function pendingUpgradeJobIds(stateDir: string): Set<string> {
  return new Set(readUpgradeMarkers(stateDir).map((m) => m.jobId));
}
