/**
 * The desired-state part of the store (docs/lifecycle.md "Desired state"): the product tree, the
 * hosts attached to components and the policy of each level. Both stores implement it
 * (sqlite/policy.ts, postgres/policy.ts) with the tree rules of ../policy/tree-rules.ts applied
 * inside their transaction; a refused change throws a PolicyRefusal and writes nothing. Every
 * change bumps the policy generation, which effective-policy caches compare.
 */
import type { PolicyDocument } from '@aspire/protocol';

export type NodeKind = 'product' | 'service' | 'component';

export interface TreeNodeRow {
  id: number;
  kind: NodeKind;
  name: string;
  parent: number | null;
  /** A component's tag selector `k=v,...` (every pair must match), or null. */
  tags: string | null;
  gmt_create: number;
  gmt_modify: number;
}

/** The policy scope key of a level: `root`, `node:<id>`, `host:<agentsn>`. */
export type PolicyScope = 'root' | `node:${number}` | `host:${string}`;

export interface PolicyRow {
  scope: string;
  document: PolicyDocument;
  gmt_create: number;
  gmt_modify: number;
}

export interface NodeInput {
  kind: NodeKind;
  name: string;
  parent: number | null;
  /** Normalised `k=v,...` (components only) or null. */
  tags: string | null;
}

/** What PATCH changes; `parent` present = a move (the route asked for it explicitly). */
export interface NodeChange {
  name?: string;
  tags?: string | null;
  parent?: number | null;
}

/** A host's tags as the tag rule reads them; undefined from hostTags when the host is unknown or deleted. */
export interface HostTags {
  reported: string;
  bound: string[];
}

export interface PolicyStore {
  /** Bumped by every change below (a counter in `meta`). */
  generation(): Promise<number>;
  /** Bump it for a change made elsewhere that moves hosts between components (bound tags). */
  bumpGeneration(): Promise<void>;
  listNodes(): Promise<TreeNodeRow[]>;
  createNode(input: NodeInput, now: number): Promise<TreeNodeRow>;
  updateNode(id: number, change: NodeChange, now: number): Promise<TreeNodeRow>;
  /** Refused (409 tree_not_empty) while the node has children or attached hosts; its policy goes with it. */
  deleteNode(id: number): Promise<void>;
  /**
   * Attach hosts to a component explicitly. A host attached to another component is refused
   * (host_second_component) unless `move`; unknown hosts are refused (host_unknown), nothing changed.
   */
  attachHosts(
    component: number,
    agentsns: readonly string[],
    move: boolean,
    now: number,
  ): Promise<{ attached: number }>;
  detachHost(component: number, agentsn: string, now: number): Promise<number>;
  componentHosts(component: number): Promise<string[]>;
  /** Explicitly attached hosts per component id (components without any are absent). */
  hostCounts(): Promise<Map<number, number>>;
  explicitComponent(agentsn: string): Promise<number | undefined>;
  hostTags(agentsn: string): Promise<HostTags | undefined>;
  /** Store the document of one level (the node or host must exist: tree_not_found / host_unknown). */
  putPolicy(scope: PolicyScope, doc: PolicyDocument, now: number): Promise<PolicyRow>;
  getPolicy(scope: PolicyScope): Promise<PolicyRow | undefined>;
  deletePolicy(scope: PolicyScope, now: number): Promise<number>;
  listPolicies(): Promise<PolicyRow[]>;
}

/** SQL shared by both stores (`?` placeholders; the PostgreSQL part numbers them). */
export const POLICY_SQL = {
  bump: `UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE key = 'policy_generation'`,
  generation: `SELECT value FROM meta WHERE key = 'policy_generation'`,
  nodes: 'SELECT id, kind, name, parent, tags, gmt_create, gmt_modify FROM tree_nodes ORDER BY id',
  hostTags: `SELECT reported_tags FROM hosts WHERE agentsn = ? AND status != 'deleted'`,
  hostCounts: 'SELECT component, COUNT(*) AS n FROM host_components GROUP BY component',
  boundTags: `SELECT t.name || '=' || t.value AS pair FROM hosts_tags ht JOIN tags t ON t.id = ht.tagid
    JOIN hosts h ON h.id = ht.hostid WHERE h.agentsn = ?`,
} as const;

export function policyRow(r: { scope: string; document: string; gmt_create: number; gmt_modify: number }): PolicyRow {
  return { ...r, document: JSON.parse(r.document) as PolicyDocument };
}
