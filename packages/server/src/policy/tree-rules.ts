/**
 * The product tree's rules (docs/lifecycle.md "Desired state"), pure so both stores apply them
 * inside their transaction: product > service > component, one parent (none for a product),
 * names unique among siblings, no cycle; and which component a host belongs to.
 */
import { parseTags, tagsMatch } from '../tasks/state-machine.ts';
import type { NodeKind, TreeNodeRow } from '../store/policy-store.ts';
import { badRequest, PolicyRefusal } from './refusal.ts';

export const NODE_KINDS = ['product', 'service', 'component'] as const satisfies readonly NodeKind[];
export type { NodeKind, TreeNodeRow };

/** The kind a node's parent must have (null: none, a product is a root of the tree). */
export const PARENT_KIND: Record<NodeKind, NodeKind | null> = {
  product: null,
  service: 'product',
  component: 'service',
};

const describe = (n: TreeNodeRow) => `${n.kind} ${n.id} (${JSON.stringify(n.name)})`;

/** Refuse a parent that does not fit the kind: missing, of the wrong level, or unknown. */
export function checkParent(nodes: ReadonlyMap<number, TreeNodeRow>, kind: NodeKind, parent: number | null): void {
  const want = PARENT_KIND[kind];
  if (want === null) {
    if (parent !== null) throw badRequest('tree_parent_kind', 'a product is at the top of the tree: it has no parent');
    return;
  }
  if (parent === null) throw badRequest('tree_parent_required', `a ${kind} needs a parent ${want}`);
  const p = nodes.get(parent);
  if (!p) throw new PolicyRefusal('NOT_FOUND', 'tree_not_found', `parent node ${parent} does not exist`);
  if (p.kind !== want)
    throw badRequest('tree_parent_kind', `a ${kind}'s parent must be a ${want}, ${describe(p)} is not`);
}

/** Whether `candidate` is `id` or lies below it. */
function isSelfOrBelow(nodes: ReadonlyMap<number, TreeNodeRow>, id: number, candidate: number): boolean {
  const seen = new Set<number>();
  for (let cur: number | null = candidate; cur !== null; cur = nodes.get(cur)?.parent ?? null) {
    if (cur === id) return true;
    // A stored loop cannot be made through these rules; stop rather than spin if one were there.
    if (seen.has(cur)) return true;
    seen.add(cur);
  }
  return false;
}

/**
 * Moving node `id` under `parent`: a cycle is refused first (the clearest reason when the new
 * parent is the node itself or below it), then the kind rule.
 */
export function checkMove(nodes: ReadonlyMap<number, TreeNodeRow>, id: number, parent: number | null): void {
  const node = nodes.get(id);
  if (!node) throw new PolicyRefusal('NOT_FOUND', 'tree_not_found', `node ${id} does not exist`);
  if (parent !== null && isSelfOrBelow(nodes, id, parent))
    throw badRequest(
      'tree_cycle',
      parent === id
        ? `node ${id} cannot be its own parent`
        : `moving node ${id} under node ${parent} would make a cycle: ${parent} is below ${id}`,
    );
  checkParent(nodes, node.kind, parent);
}

/** Refuse a name already used by a sibling (products: by another product). */
export function checkSiblingName(
  nodes: ReadonlyMap<number, TreeNodeRow>,
  parent: number | null,
  name: string,
  self?: number,
): void {
  for (const n of nodes.values())
    if (n.parent === parent && n.name === name && n.id !== self)
      throw new PolicyRefusal(
        'CONFLICT',
        'tree_name_taken',
        `${describe(n)} already has this name under ${parent === null ? 'the root' : `node ${parent}`}`,
      );
}

/** A tag selector is only a component's, and must name at least one `k=v` pair. */
export function checkTags(kind: NodeKind, tags: string | null): string | null {
  if (tags === null || tags.trim() === '') return null;
  if (kind !== 'component') throw badRequest('tree_tags', `only a component attaches hosts by tag, not a ${kind}`);
  const pairs = parseTags(tags);
  const bad = pairs.filter((p) => !/^[^=,\s]+=[^=,]*$/.test(p));
  if (pairs.length === 0 || bad.length > 0)
    throw badRequest('tree_tags', `tags must be k=v pairs separated by commas; bad: ${bad.join(', ') || tags}`);
  return pairs.join(',');
}

export function nodeMap(nodes: readonly TreeNodeRow[]): Map<number, TreeNodeRow> {
  return new Map(nodes.map((n) => [n.id, n]));
}

/** The path from the product down to `id` (product first); empty for an unknown id. */
export function pathTo(nodes: ReadonlyMap<number, TreeNodeRow>, id: number): TreeNodeRow[] {
  const path: TreeNodeRow[] = [];
  const seen = new Set<number>();
  for (
    let cur = nodes.get(id);
    cur && !seen.has(cur.id);
    cur = cur.parent === null ? undefined : nodes.get(cur.parent)
  ) {
    seen.add(cur.id);
    path.unshift(cur);
  }
  return path;
}

export interface HostComponent {
  /** The effective component, or null when the host belongs to none. */
  component: number | null;
  by: 'explicit' | 'tag' | null;
  /** Other components whose selector also matched (tag rule only), for the operator to see. */
  alsoMatched: number[];
}

/**
 * Which component a host belongs to: an explicit attachment wins; otherwise the components whose
 * tag selector the host's tags hold, the one with the most pairs, then the lowest id (the
 * documented rule for several matches; the others are reported in `alsoMatched`).
 */
export function hostComponent(
  nodes: readonly TreeNodeRow[],
  explicit: number | undefined,
  hostTags: ReadonlySet<string>,
): HostComponent {
  if (explicit !== undefined) return { component: explicit, by: 'explicit', alsoMatched: [] };
  const matched = nodes
    .filter((n) => n.kind === 'component' && n.tags !== null)
    .map((n) => ({ id: n.id, pairs: parseTags(n.tags) }))
    .filter((c) => tagsMatch(c.pairs, hostTags))
    .sort((a, b) => b.pairs.length - a.pairs.length || a.id - b.id);
  const first = matched[0];
  if (!first) return { component: null, by: null, alsoMatched: [] };
  return { component: first.id, by: 'tag', alsoMatched: matched.slice(1).map((c) => c.id) };
}

/** A host's tags as the tag rule sees them: reported (`k=v,...` of its push) and bound. */
export function hostTagSet(reported: string | null | undefined, bound: readonly string[]): Set<string> {
  return new Set([...parseTags(reported), ...bound]);
}
