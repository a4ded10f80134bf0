/**
 * The product tree (docs/lifecycle.md "Desired state"): nodes product > service > component and
 * the hosts attached to components. Reads need viewer, changes admin; every change is audited.
 */
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { PartContext } from '../app-context.ts';
import type { PolicyPart } from '../store/store.ts';
import { hostsSelector, noteAudit } from '../http/audit.ts';
import { ok } from '../http/envelope.ts';
import { desiredState } from '../policy/desired-state.ts';
import { nodeScope } from '../policy/merge.ts';
import { badRequest, PolicyRefusal } from '../policy/refusal.ts';
import { NODE_KINDS } from '../policy/tree-rules.ts';
import { guarded, Id, nodeOut, policyOut, Sn } from './policy-http.ts';

const NodeHostParams = Type.Object({ id: Type.Integer({ minimum: 1 }), agentsn: Sn }, { additionalProperties: false });
const NodeName = Type.String({ minLength: 1, maxLength: 128, pattern: '^\\S(.*\\S)?$' });
/** A parent is one node id; a list is accepted by the schema only to refuse it by name (tree_second_parent). */
const Parent = Type.Union([Type.Integer({ minimum: 1 }), Type.Null(), Type.Array(Type.Integer({ minimum: 1 }))]);
const Tags = Type.Union([Type.String({ maxLength: 1024 }), Type.Null()]);
const NodeBody = Type.Object(
  {
    kind: Type.Union(NODE_KINDS.map((k) => Type.Literal(k))),
    name: NodeName,
    parent: Type.Optional(Parent),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);
const NodePatch = Type.Object(
  {
    name: Type.Optional(NodeName),
    tags: Type.Optional(Tags),
    parent: Type.Optional(Parent),
    move: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const AttachBody = Type.Object(
  { agents: Type.Array(Sn, { minItems: 1, maxItems: 100_000 }), move: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
const DriftQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) },
  { additionalProperties: false },
);

/** One parent at most: `[a, b]` is the second parent the tree refuses. */
function oneParent(p: number | null | number[] | undefined): number | null | undefined {
  if (!Array.isArray(p)) return p;
  if (p.length > 1) throw badRequest('tree_second_parent', `a node has one parent; got ${p.length}: ${p.join(', ')}`);
  return p[0] ?? null;
}

export async function treeRoutes(app: FastifyInstance, ctx: PartContext<PolicyPart>): Promise<void> {
  const now = () => ctx.clock.now();
  const changed = () => desiredState(ctx.store, ctx.clock).invalidate();

  app.get(
    '/tree',
    { schema: { tags: ['tree'], summary: 'The product tree: every node, flat (parent ids)' } },
    async () => {
      const [nodes, policies, counts] = await Promise.all([
        ctx.store.policy.listNodes(),
        ctx.store.policy.listPolicies(),
        ctx.store.policy.hostCounts(),
      ]);
      const withPolicy = new Set(policies.map((p) => p.scope));
      const out = nodes.map((n) => ({
        ...nodeOut(n),
        policy: withPolicy.has(nodeScope(n.id)),
        hosts: counts.get(n.id) ?? 0,
      }));
      return ok({ nodes: out, root_policy: withPolicy.has('root') });
    },
  );

  app.post<{ Body: Static<typeof NodeBody> }>(
    '/tree/node',
    { schema: { tags: ['tree'], summary: 'Create a product, service or component node', body: NodeBody } },
    guarded(async (req, reply) => {
      const b = req.body;
      const node = await ctx.store.policy.createNode(
        { kind: b.kind, name: b.name, parent: oneParent(b.parent) ?? null, tags: b.tags ?? null },
        now(),
      );
      changed();
      noteAudit(req, { outcome: `node ${node.id} ${node.kind} ${node.name}` });
      return reply.send(ok({ node: nodeOut(node) }));
    }),
  );

  app.get<{ Params: Static<typeof Id> }>(
    '/tree/node/:id',
    { schema: { tags: ['tree'], summary: 'A node with its children, attached hosts and policy', params: Id } },
    guarded(async (req, reply) => {
      const nodes = await ctx.store.policy.listNodes();
      const node = nodes.find((n) => n.id === req.params.id);
      if (!node) throw new PolicyRefusal('NOT_FOUND', 'tree_not_found', `node ${req.params.id} does not exist`);
      return reply.send(
        ok({
          node: nodeOut(node),
          children: nodes.filter((n) => n.parent === node.id).map(nodeOut),
          hosts: node.kind === 'component' ? await ctx.store.policy.componentHosts(node.id) : [],
          policy: policyOut(await ctx.store.policy.getPolicy(nodeScope(node.id))),
        }),
      );
    }),
  );

  app.patch<{ Params: Static<typeof Id>; Body: Static<typeof NodePatch> }>(
    '/tree/node/:id',
    {
      schema: {
        tags: ['tree'],
        summary: 'Rename a node, set a component tag selector, or move it (parent with move: true)',
        params: Id,
        body: NodePatch,
      },
    },
    guarded(async (req, reply) => {
      const b = req.body;
      const parent = oneParent(b.parent);
      if (parent !== undefined && b.move !== true) {
        const current = (await ctx.store.policy.listNodes()).find((n) => n.id === req.params.id);
        if (current && current.parent !== parent)
          throw badRequest(
            'tree_second_parent',
            `node ${current.id} already has ${current.parent === null ? 'no parent' : `parent ${current.parent}`}; a node has one parent: send move: true to move it`,
          );
      }
      const node = await ctx.store.policy.updateNode(
        req.params.id,
        {
          ...(b.name !== undefined ? { name: b.name } : {}),
          ...(b.tags !== undefined ? { tags: b.tags } : {}),
          ...(parent !== undefined ? { parent } : {}),
        },
        now(),
      );
      changed();
      noteAudit(req, { outcome: `node ${node.id}` });
      return reply.send(ok({ node: nodeOut(node) }));
    }),
  );

  app.delete<{ Params: Static<typeof Id> }>(
    '/tree/node/:id',
    { schema: { tags: ['tree'], summary: 'Delete an empty node (no children, no hosts) and its policy', params: Id } },
    guarded(async (req, reply) => {
      await ctx.store.policy.deleteNode(req.params.id);
      changed();
      noteAudit(req, { outcome: `node ${req.params.id} deleted` });
      return reply.send(ok({ deleted: 1 }));
    }),
  );
  hostAttachRoutes(app, ctx);
}

/** Attach hosts to a component, detach one. */
function hostAttachRoutes(app: FastifyInstance, ctx: PartContext<PolicyPart>): void {
  const now = () => ctx.clock.now();
  const changed = () => desiredState(ctx.store, ctx.clock).invalidate();

  app.post<{ Params: Static<typeof Id>; Body: Static<typeof AttachBody> }>(
    '/tree/node/:id/hosts',
    {
      schema: {
        tags: ['tree'],
        summary: 'Attach hosts to a component (one component a host; move: true moves them)',
        params: Id,
        body: AttachBody,
      },
    },
    guarded(async (req, reply) => {
      const r = await ctx.store.policy.attachHosts(req.params.id, req.body.agents, req.body.move === true, now());
      changed();
      noteAudit(req, {
        targets: req.body.agents.length,
        selector: hostsSelector(req.body.agents),
        outcome: `component ${req.params.id} attached ${r.attached}`,
      });
      return reply.send(ok(r));
    }),
  );

  app.delete<{ Params: Static<typeof NodeHostParams> }>(
    '/tree/node/:id/hosts/:agentsn',
    { schema: { tags: ['tree'], summary: 'Detach a host from a component', params: NodeHostParams } },
    guarded(async (req, reply) => {
      const detached = await ctx.store.policy.detachHost(req.params.id, req.params.agentsn, now());
      changed();
      noteAudit(req, {
        targets: 1,
        selector: hostsSelector([req.params.agentsn]),
        outcome: `component ${req.params.id} detached ${detached}`,
      });
      return reply.send(ok({ detached }));
    }),
  );
}
