/**
 * What survives a BootAgent restart, per sub-agent: DIR/NAME/state.json, written atomically
 * (temp file + rename in the same directory). DIR is the manager's stateDir (the BootAgent
 * passes STATE/agents). `current` in it is the marker of the version that runs; the versions
 * sit side by side in DIR/NAME/versions/VERSION/. Downloads land in DIR/.tmp (agent names
 * cannot start with a dot, so it never collides with one).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeJsonAtomicSync } from '@aspire/agent-core';
import type { Limits } from '@aspire/protocol';

export type Desired = 'running' | 'stopped';
export type PackageKind = 'tar' | 'rpm';

export interface AgentState {
  name: string;
  current: string;
  previous?: string;
  kind: PackageKind;
  /** rpm package name (for rpm -e) when kind is rpm. */
  rpmName?: string | undefined;
  desired: Desired;
  fatal: boolean;
  /** Last exit was a limit kill and no start since. */
  killed: boolean;
  strikes: number;
  /** Wall ms of the last start/adoption. */
  lastStartAt: number;
  pid?: number | undefined;
  startTicks?: string | undefined;
  /** Job envs and limits: applied at every start, kept until a job changes them. */
  envs: Record<string, string>;
  limits?: Limits;
}

export interface AgentLayout {
  root: string;
  stateFile: string;
  versionsDir: string;
  versionDir(version: string): string;
  logFile: string;
}

export function layout(stateDir: string, name: string): AgentLayout {
  const root = join(stateDir, name);
  return {
    root,
    stateFile: join(root, 'state.json'),
    versionsDir: join(root, 'versions'),
    versionDir: (v) => join(root, 'versions', v),
    logFile: join(root, 'log', `${name}.log`),
  };
}

export function saveState(stateDir: string, s: AgentState): void {
  writeJsonAtomicSync(layout(stateDir, s.name).stateFile, s, 0o600);
}

export function loadAllStates(stateDir: string, onCorrupt: (name: string, error: string) => void): AgentState[] {
  let names: string[];
  try {
    names = readdirSync(stateDir).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
  const out: AgentState[] = [];
  for (const name of names.sort()) {
    const r = readJsonFile<AgentState>(layout(stateDir, name).stateFile);
    if (r.kind === 'ok' && r.value && r.value.name === name && typeof r.value.current === 'string') out.push(r.value);
    else if (r.kind === 'corrupt') onCorrupt(name, r.error);
  }
  return out;
}

export function removeAgentDir(stateDir: string, name: string): void {
  rmSync(layout(stateDir, name).root, { recursive: true, force: true });
}
