/**
 * The effective policy of a host (docs/lifecycle.md "Desired state"): the levels root < product
 * < service < component < host, applied in that order; per sub-agent name and per periodic task
 * name the lowest level that names it wins, and `{name, remove: true}` takes an inherited entry
 * away (a still lower level may add it again). Entries are sorted by name, `run` and `limits`
 * always present, so equal policies have equal canonical JSON and equal hashes.
 */
import {
  type EffectivePolicy,
  type EffectiveSubagent,
  type PolicyDocument,
  type PolicyOrigin,
  type PolicyPeriodic,
  policyHash,
} from '@aspire/protocol';
import type { PolicyScope } from '../store/policy-store.ts';
import { isRemoval } from './document.ts';

export interface PolicyLayer {
  origin: PolicyOrigin;
  doc: PolicyDocument;
}

export interface Effective {
  policy: EffectivePolicy;
  hash: string;
  /** Entry name -> the level it comes from (a sub-agent's origin when a task has its name too). */
  origin: Record<string, PolicyOrigin>;
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function mergePolicies(layers: readonly PolicyLayer[]): Effective {
  const subagents = new Map<string, { e: EffectiveSubagent; from: PolicyOrigin }>();
  const periodic = new Map<string, { e: PolicyPeriodic; from: PolicyOrigin }>();
  for (const { origin, doc } of layers) {
    for (const e of doc.subagents ?? []) {
      if (isRemoval(e)) subagents.delete(e.name);
      else
        subagents.set(e.name, {
          e: { name: e.name, version: e.version, run: { ...(e.run ?? {}) }, limits: { ...(e.limits ?? {}) } },
          from: origin,
        });
    }
    for (const e of doc.periodic ?? []) {
      if (isRemoval(e)) periodic.delete(e.name);
      else
        periodic.set(e.name, {
          e: { name: e.name, user: e.user, schedule: e.schedule.trim(), command: e.command.trim() },
          from: origin,
        });
    }
  }
  const policy: EffectivePolicy = {
    subagents: [...subagents.values()].map((x) => x.e).sort(byName),
    periodic: [...periodic.values()].map((x) => x.e).sort(byName),
  };
  const origin: Record<string, PolicyOrigin> = {};
  for (const [name, x] of periodic) origin[name] = x.from;
  for (const [name, x] of subagents) origin[name] = x.from;
  return { policy, hash: policyHash(policy), origin };
}

export type { PolicyScope };

export const nodeScope = (id: number): `node:${number}` => `node:${id}`;
export const hostScope = (agentsn: string): PolicyScope => `host:${agentsn}`;
