/**
 * What the host must change to match the desired sub-agents: a pure function of the policy, the
 * manager's report and the names the policy installed, tested from a table. Only sub-agents the
 * policy installed are ever removed by it; one installed by a job and later dropped from the
 * policy keeps running. A `fatal` agent is not restarted here: the 3-strike rule and the
 * operator's jobs decide that (docs/supervision.md).
 */
import { canonicalJson, type AgentReport, type SubAgentJob } from '@aspire/protocol';
import type { DesiredAgent } from './policy-doc.ts';

/** One thing found off the policy, and what it was made (null: absent). */
export interface Repair {
  kind: 'subagent' | 'limits' | 'periodic';
  name: string;
  was: string | null;
  now: string | null;
}

/** A change to run: the sub-agent job (its id is given when queued) and what it repairs. */
export interface Change {
  job: Omit<SubAgentJob, 'id'>;
  repair: Repair;
}

export interface SubAgentPlan {
  changes: Change[];
  /** Names to record as installed by the policy before the changes run. */
  record: string[];
  /** Recorded names that are gone and not wanted any more: forget them. */
  forget: string[];
}

function installJob(d: DesiredAgent, action: 'install' | 'upgrade'): Omit<SubAgentJob, 'id'> {
  return {
    action,
    name: d.name,
    version: d.version,
    url: d.url,
    ...(d.checksum ? { checksum: d.checksum } : {}),
    ...(d.envs ? { envs: d.envs } : {}),
    ...(d.limits ? { limits: d.limits } : {}),
  };
}

function limitsText(l: unknown): string | null {
  return l === undefined || (typeof l === 'object' && l !== null && Object.keys(l).length === 0)
    ? null
    : canonicalJson(l);
}

/** `leave`: named by the policy but not installable here; neither installed nor removed. */
export function planSubAgents(
  desired: readonly DesiredAgent[],
  reports: readonly AgentReport[],
  installed: readonly string[],
  leave: readonly string[] = [],
): SubAgentPlan {
  const byName = new Map(reports.map((r) => [r.name, r]));
  const wanted = new Set([...desired.map((d) => d.name), ...leave]);
  const changes: Change[] = [];
  const record: string[] = [];
  for (const d of desired) {
    const r = byName.get(d.name);
    if (!r) {
      changes.push({
        job: installJob(d, 'install'),
        repair: { kind: 'subagent', name: d.name, was: null, now: d.version },
      });
      if (!installed.includes(d.name)) record.push(d.name);
    } else if (r.version !== d.version) {
      changes.push({
        job: installJob(d, 'upgrade'),
        repair: { kind: 'subagent', name: d.name, was: r.version, now: d.version },
      });
    } else if (d.limits !== undefined && limitsText(d.limits) !== limitsText(r.limits)) {
      // A restart applies the job's limits (docs/supervision.md "Jobs").
      changes.push({
        job: { action: 'restart', name: d.name, limits: d.limits },
        repair: { kind: 'limits', name: d.name, was: limitsText(r.limits), now: limitsText(d.limits) },
      });
    }
  }
  const forget: string[] = [];
  for (const name of installed) {
    if (wanted.has(name)) continue;
    const r = byName.get(name);
    if (r)
      changes.push({
        job: { action: 'uninstall', name },
        repair: { kind: 'subagent', name, was: r.version, now: null },
      });
    else forget.push(name);
  }
  return { changes, record, forget };
}
