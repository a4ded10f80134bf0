/**
 * The desired-state routes (docs/lifecycle.md "Desired state"): the product tree, host
 * attachments, the policy of each level and a host's effective policy. Kept beside
 * endpoints.ts, one function per route.
 */
import { call } from './client.ts';
import type { HostEvent } from './types.ts';

export type NodeKind = 'product' | 'service' | 'component';

export interface TreeNode {
  id: number;
  kind: NodeKind;
  name: string;
  parent: number | null;
  tags: string | null;
  policy: boolean;
  hosts: number;
  gmt_modify: string;
}

export interface PolicyDoc {
  subagents?: Record<string, unknown>[];
  periodic?: Record<string, unknown>[];
}

export interface PolicyRow {
  scope: string;
  document: PolicyDoc;
  gmt_modify: string;
}

export interface EffectivePolicy {
  agentsn: string;
  hash: string;
  subagents: { name: string; version: string; run: Record<string, unknown>; limits: Record<string, unknown> }[];
  periodic: { name: string; user: string; schedule: string; command: string }[];
  origin: Record<string, string>;
  component: { component: number | null; by: 'explicit' | 'tag' | null; alsoMatched: number[] };
  path: { id: number; kind: NodeKind; name: string }[];
  applied: { hash: string | null; occurred: number; gmt_create: string } | null;
  in_sync: boolean;
  drift: HostEvent[];
  /** The newest policy_failed event when none was applied after it. */
  failed: HostEvent | null;
}

/** `root`, `node/<id>` or `host/<agentsn>`: the level a policy is put at. */
export type Level = { kind: 'root' } | { kind: 'node'; id: number } | { kind: 'host'; agentsn: string };

const levelPath = (l: Level) =>
  l.kind === 'root'
    ? '/policy/root'
    : l.kind === 'node'
      ? `/policy/node/${l.id}`
      : `/policy/host/${encodeURIComponent(l.agentsn)}`;

export function getTree(signal?: AbortSignal): Promise<{ nodes: TreeNode[]; root_policy: boolean }> {
  return call('GET', '/tree', { signal });
}

export function createNode(
  kind: NodeKind,
  name: string,
  parent: number | null,
  tags?: string,
): Promise<{ node: TreeNode }> {
  return call('POST', '/tree/node', { body: { kind, name, parent, ...(tags ? { tags } : {}) } });
}

export function deleteNode(id: number): Promise<unknown> {
  return call('DELETE', `/tree/node/${id}`);
}

export function getNode(
  id: number,
  signal?: AbortSignal,
): Promise<{ node: TreeNode; hosts: string[]; policy: PolicyRow | null }> {
  return call('GET', `/tree/node/${id}`, { signal });
}

export function attachHosts(id: number, agents: string[], move: boolean): Promise<{ attached: number }> {
  return call('POST', `/tree/node/${id}/hosts`, { body: { agents, move } });
}

export function detachHost(id: number, agentsn: string): Promise<{ detached: number }> {
  return call('DELETE', `/tree/node/${id}/hosts/${encodeURIComponent(agentsn)}`);
}

export function getPolicy(level: Level, signal?: AbortSignal): Promise<{ scope: string; policy: PolicyRow | null }> {
  return call('GET', levelPath(level), { signal });
}

export function putPolicy(level: Level, doc: unknown): Promise<{ policy: PolicyRow }> {
  return call('PUT', levelPath(level), { body: doc });
}

export function deletePolicy(level: Level): Promise<{ deleted: number }> {
  return call('DELETE', levelPath(level));
}

export function getEffective(agentsn: string, signal?: AbortSignal): Promise<EffectivePolicy> {
  return call('GET', `/host/${encodeURIComponent(agentsn)}/policy`, { signal });
}
