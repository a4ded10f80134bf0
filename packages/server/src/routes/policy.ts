/**
 * Desired state, operator side (docs/lifecycle.md "Desired state", docs/server.md): the product
 * tree, hosts attached to components, the policy of the root, a node or a host, and a host's
 * effective policy with where each entry comes from, the hash it last applied and its drift.
 * Reads need viewer, changes admin (http/operator-auth.ts); every change is audited.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fail, type PolicyDocument, PolicyDocument as PolicyDocumentSchema } from '@aspire/protocol';
import type { AppContext } from '../app-context.ts';
import { hostsSelector, noteAudit } from '../http/audit.ts';
import { ok } from '../http/envelope.ts';
import { EVENT_TIME_FIELDS, ROW_TIME_FIELDS, withIsoTimes } from '../http/iso-time.ts';
import { desiredState } from '../policy/desired-state.ts';
import { checkPolicyDocument, isRemoval } from '../policy/document.ts';
import { hostScope, nodeScope, type PolicyScope } from '../policy/merge.ts';
import { badRequest, PolicyRefusal } from '../policy/refusal.ts';
import { NODE_KINDS, type TreeNodeRow } from '../policy/tree-rules.ts';
import type { PolicyRow } from '../store/policy-store.ts';

const Id = Type.Object({ id: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });
const Sn = Type.String({ minLength: 1, maxLength: 64 });
const SnParams = Type.Object({ agentsn: Sn }, { additionalProperties: false });
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

function refusal(reply: FastifyReply, err: unknown): FastifyReply {
  if (!(err instanceof PolicyRefusal)) throw err;
  const { http, body } = fail(err.status, err.message);
  return reply.code(http).send({ ...body, reason: err.reason });
}

/** Run a handler; a PolicyRefusal becomes its envelope with `reason`. */
const guarded =
  <R extends FastifyRequest>(fn: (req: R, reply: FastifyReply) => Promise<FastifyReply>) =>
  async (req: R, reply: FastifyReply) => {
    try {
      return await fn(req, reply);
    } catch (err) {
      return refusal(reply, err);
    }
  };

const nodeOut = (n: TreeNodeRow) => withIsoTimes(n, ROW_TIME_FIELDS);
const policyOut = (p: PolicyRow | undefined) => (p ? withIsoTimes(p, ROW_TIME_FIELDS) : null);

export async function policyRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const now = () => ctx.clock.now();
  const ds = () => desiredState(ctx.store, ctx.clock);
  const changed = () => ds().invalidate();

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

  policyLevelRoutes(app, ctx, '/policy/root', undefined, () => 'root');
  policyLevelRoutes(app, ctx, '/policy/node/:id', Id, (p) => nodeScope((p as { id: number }).id));
  policyLevelRoutes(app, ctx, '/policy/host/:agentsn', SnParams, (p) => hostScope((p as { agentsn: string }).agentsn));

  app.get<{ Params: Static<typeof SnParams>; Querystring: Static<typeof DriftQuery> }>(
    '/host/:agentsn/policy',
    {
      schema: {
        tags: ['tree'],
        summary: "A host's effective policy with origins, the hash it last applied and its drift events",
        params: SnParams,
        querystring: DriftQuery,
      },
    },
    guarded(async (req, reply) => {
      const sn = req.params.agentsn;
      if (!(await ctx.store.policy.hostTags(sn))) throw new PolicyRefusal('NOT_FOUND', 'host_unknown', `no host ${sn}`);
      const eff = await ds().effectiveFor(sn);
      const paging = (limit: number) => ({ offset: 0, limit, order: 'desc' as const, sortby: 'id' });
      const applied = (await ctx.store.listEvents({ agentsn: sn, kind: 'policy_applied' }, paging(1))).items[0];
      const drift = await ctx.store.listEvents({ agentsn: sn, kind: 'policy_drift' }, paging(req.query.limit ?? 20));
      const appliedHash = (applied?.data as { hash?: unknown } | null)?.hash;
      return reply.send(
        ok({
          agentsn: sn,
          hash: eff.hash,
          subagents: eff.policy.subagents,
          periodic: eff.policy.periodic,
          origin: eff.origin,
          component: eff.component,
          path: eff.path.map(nodeOut),
          applied: applied
            ? {
                hash: typeof appliedHash === 'string' ? appliedHash : null,
                occurred: applied.occurred,
                gmt_create: withIsoTimes(applied, EVENT_TIME_FIELDS).gmt_create,
              }
            : null,
          in_sync: typeof appliedHash === 'string' && appliedHash === eff.hash,
          drift: drift.items.map((e) => withIsoTimes(e, EVENT_TIME_FIELDS)),
        }),
      );
    }),
  );
}

/** GET, PUT, DELETE of the policy of one level. */
function policyLevelRoutes(
  app: FastifyInstance,
  ctx: AppContext,
  path: string,
  params: typeof Id | typeof SnParams | undefined,
  scopeOf: (params: unknown) => PolicyScope,
): void {
  const tags = ['policy'];
  const level = path.split('/')[2];
  app.get(
    path,
    { schema: { tags, summary: `The policy at the ${level} level (null when none)`, ...(params ? { params } : {}) } },
    async (req) =>
      ok({ scope: scopeOf(req.params), policy: policyOut(await ctx.store.policy.getPolicy(scopeOf(req.params))) }),
  );
  app.put(
    path,
    {
      // Documented, checked in the handler (checkPolicyDocument) so a refusal names every problem and its reason.
      validatorCompiler: () => () => true,
      schema: {
        body: PolicyDocumentSchema,
        tags,
        summary: `Put the policy at the ${level} level: {subagents: [{name, version, run, limits} | {name, remove: true}], periodic: [{name, user, schedule, command} | {name, remove: true}]}`,
        ...(params ? { params } : {}),
      },
    },
    guarded(async (req, reply) => {
      const scope = scopeOf(req.params);
      const doc = checkPolicyDocument(req.body);
      await checkPackages(ctx, doc);
      const row = await ctx.store.policy.putPolicy(scope, doc, ctx.clock.now());
      desiredState(ctx.store, ctx.clock).invalidate();
      noteAudit(req, {
        ...(scope.startsWith('host:') ? { targets: 1, selector: `hosts=${scope.slice(5)}` } : {}),
        outcome: `policy ${scope}: ${doc.subagents?.length ?? 0} sub-agent(s), ${doc.periodic?.length ?? 0} periodic`,
      });
      return reply.send(ok({ scope, policy: policyOut(row) }));
    }),
  );
  app.delete(
    path,
    { schema: { tags, summary: `Delete the policy at the ${level} level`, ...(params ? { params } : {}) } },
    guarded(async (req, reply) => {
      const scope = scopeOf(req.params);
      const deleted = await ctx.store.policy.deletePolicy(scope, ctx.clock.now());
      desiredState(ctx.store, ctx.clock).invalidate();
      noteAudit(req, { outcome: `policy ${scope} deleted ${deleted}` });
      return reply.send(ok({ scope, deleted }));
    }),
  );
}

/** Every sub-agent without its own `run.url` must be a registered package of that name and version. */
async function checkPackages(ctx: AppContext, doc: PolicyDocument): Promise<void> {
  const missing: string[] = [];
  for (const e of doc.subagents ?? []) {
    if (isRemoval(e) || e.run?.url !== undefined) continue;
    if (!(await ctx.store.findPackage(e.name, e.version))) missing.push(`${e.name} ${e.version}`);
  }
  if (missing.length > 0)
    throw badRequest(
      'policy_package_missing',
      `no registered package ${missing.join(', ')} (upload it with POST /api/v1/server/package, or give run.url)`,
    );
}
