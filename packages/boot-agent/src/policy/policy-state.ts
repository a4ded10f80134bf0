/**
 * What the BootAgent remembers of the desired-state policy (`policy-state.json` in its state
 * dir, written whole: temp file, fsync, rename): the hash it last converged to, when it last
 * pulled the full policy, which sub-agents the policy installed (only those are ever removed by
 * it), the managed periodic tasks (to repair a hand edit between pulls) and a counter that makes
 * every change's journal id unique.
 */
import { join } from 'node:path';
import { type ManagedTask, readJsonFile, writeJsonAtomic } from '@aspire/agent-core';

export const POLICY_STATE_FILE = 'policy-state.json';

export interface PolicyState {
  version: 1;
  /** Hash of the policy the host last converged to completely. */
  appliedHash?: string;
  /** Unix ms of the last full pull that converged (or found nothing to do). */
  lastFullCheckMs?: number;
  /** Bumped before each pass that changes something: journal ids `policy-<hash>-<pass>-<n>`. */
  pass: number;
  /** Sub-agents the policy installed (recorded before the install is queued). */
  installed: string[];
  /** The managed periodic tasks of the applied policy. */
  periodic: ManagedTask[];
  /** A pass that failed (a change refused or failed): not tried again before this, unless the hash changes. */
  failed?: { hash: string; retryAtMs: number; error: string };
}

export function emptyPolicyState(): PolicyState {
  return { version: 1, pass: 0, installed: [], periodic: [] };
}

export interface LoadedPolicyState {
  state: PolicyState;
  /** The file was unreadable: started afresh (the next reply's hash differs, so the agent pulls). */
  corrupt?: string;
}

export function loadPolicyState(stateDir: string): LoadedPolicyState {
  const r = readJsonFile<PolicyState>(join(stateDir, POLICY_STATE_FILE));
  if (r.kind === 'missing') return { state: emptyPolicyState() };
  if (r.kind === 'corrupt') return { state: emptyPolicyState(), corrupt: r.error };
  const v = r.value;
  if (!v || typeof v !== 'object' || v.version !== 1 || !Array.isArray(v.installed) || !Array.isArray(v.periodic))
    return { state: emptyPolicyState(), corrupt: 'not a policy state file of version 1' };
  return { state: { ...emptyPolicyState(), ...v } };
}

export function savePolicyState(stateDir: string, state: PolicyState): Promise<void> {
  return writeJsonAtomic(join(stateDir, POLICY_STATE_FILE), state);
}
