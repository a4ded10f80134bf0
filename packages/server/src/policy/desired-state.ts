/**
 * Each host's effective policy and its hash (docs/lifecycle.md "Desired state"). The tree and
 * the policies are small and change rarely: they are held in memory and read again when the
 * policy generation in the database moved (checked at most once a second, so another node's
 * change is seen within about a second). A status push asks only for the hash: with no policy
 * anywhere it costs nothing; otherwise a host's hash is computed once (its attachment and tags
 * read from the database) and kept until the generation moves or the host reports other tags.
 * Everything that changes which component a host is in moves the generation: the tree, the
 * attachments, and bound tags (routes/inventory.ts).
 */
import type { Clock } from '@aspire/agent-core';
import { EMPTY_POLICY_HASH, type PolicyDocument } from '@aspire/protocol';
import type { PolicyPart } from '../store/store.ts';
import { type Effective, hostScope, mergePolicies, nodeScope, type PolicyLayer } from './merge.ts';
import { type HostComponent, hostComponent, hostTagSet, nodeMap, pathTo, type TreeNodeRow } from './tree-rules.ts';

const GENERATION_CHECK_MS = 1000;
const HOST_CACHE_MAX = 200_000;

interface Snapshot {
  generation: number;
  nodes: TreeNodeRow[];
  byId: Map<number, TreeNodeRow>;
  policies: Map<string, PolicyDocument>;
  tagComponents: boolean;
}

export interface HostEffective extends Effective {
  component: HostComponent;
  /** Product, service, component of the host's component (empty when it has none). */
  path: TreeNodeRow[];
}

export class DesiredState {
  private snap: Snapshot | undefined;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<Snapshot> | undefined;
  private readonly hosts = new Map<string, { generation: number; tags: string; hash: string }>();

  constructor(
    private readonly store: PolicyPart,
    private readonly clock: Clock,
  ) {}

  /** After a change made through this server: read again at the next request. */
  invalidate(): void {
    this.checkedAt = Number.NEGATIVE_INFINITY;
  }

  /** A change outside the tree that moves hosts between components (bound tags): bump, re-read. */
  async changedOutside(): Promise<void> {
    await this.store.policy.bumpGeneration();
    this.invalidate();
  }

  private async snapshot(): Promise<Snapshot> {
    const now = this.clock.monotonic();
    if (this.snap && now - this.checkedAt < GENERATION_CHECK_MS) return this.snap;
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(): Promise<Snapshot> {
    const generation = await this.store.policy.generation();
    this.checkedAt = this.clock.monotonic();
    if (this.snap?.generation === generation) return this.snap;
    const [nodes, rows] = await Promise.all([this.store.policy.listNodes(), this.store.policy.listPolicies()]);
    this.snap = {
      generation,
      nodes,
      byId: nodeMap(nodes),
      policies: new Map(rows.map((r) => [r.scope, r.document])),
      tagComponents: nodes.some((n) => n.kind === 'component' && n.tags !== null),
    };
    this.hosts.clear();
    return this.snap;
  }

  /** The hash for a status reply. `reportedTags` (of the push) keys the per-host cache. */
  async hashFor(agentsn: string, reportedTags: string | undefined): Promise<string> {
    const snap = await this.snapshot();
    if (snap.policies.size === 0) return EMPTY_POLICY_HASH;
    const tags = reportedTags ?? '';
    const hit = this.hosts.get(agentsn);
    if (hit && hit.generation === snap.generation && hit.tags === tags) return hit.hash;
    const eff = await this.compute(snap, agentsn);
    if (this.hosts.size >= HOST_CACHE_MAX) this.hosts.clear();
    this.hosts.set(agentsn, { generation: snap.generation, tags, hash: eff.hash });
    return eff.hash;
  }

  /** The full effective policy of a host, read now (GET routes: no per-host cache). */
  async effectiveFor(agentsn: string): Promise<HostEffective> {
    this.invalidate();
    return this.compute(await this.snapshot(), agentsn);
  }

  private async compute(snap: Snapshot, agentsn: string): Promise<HostEffective> {
    const explicit = await this.store.policy.explicitComponent(agentsn);
    let tags = new Set<string>();
    if (explicit === undefined && snap.tagComponents) {
      const t = await this.store.policy.hostTags(agentsn);
      if (t) tags = hostTagSet(t.reported, t.bound);
    }
    const component = hostComponent(snap.nodes, explicit, tags);
    const path = component.component === null ? [] : pathTo(snap.byId, component.component);
    const layers: PolicyLayer[] = [];
    const root = snap.policies.get('root');
    if (root) layers.push({ origin: 'root', doc: root });
    for (const n of path) {
      const doc = snap.policies.get(nodeScope(n.id));
      if (doc) layers.push({ origin: nodeScope(n.id), doc });
    }
    const own = snap.policies.get(hostScope(agentsn));
    if (own) layers.push({ origin: 'host', doc: own });
    return { ...mergePolicies(layers), component, path };
  }
}

const instances = new WeakMap<PolicyPart, DesiredState>();

/** One DesiredState per store (the status route and the operator routes share its cache). */
export function desiredState(store: PolicyPart, clock: Clock): DesiredState {
  let ds = instances.get(store);
  if (!ds) {
    ds = new DesiredState(store, clock);
    instances.set(store, ds);
  }
  return ds;
}
