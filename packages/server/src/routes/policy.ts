/**
 * Desired state, operator side (docs/lifecycle.md "Desired state", docs/server.md): the tree
 * (tree.ts), the policy of the root, a node or a host, and a host's effective policy with where
 * each entry comes from, the hash it last applied and its drift. Reads need viewer, changes admin
 * (http/operator-auth.ts); every change is audited.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { type PolicyDocument, PolicyDocument as PolicyDocumentSchema } from '@aspire/protocol';
import type { PartContext } from '../app-context.ts';
import type { EventStore } from '../store/event-store.ts';
import type { PackageStore } from '../store/package-store.ts';
import type { PolicyPart } from '../store/store.ts';
import { noteAudit } from '../http/audit.ts';
import { ok } from '../http/envelope.ts';
import { EVENT_TIME_FIELDS, withIsoTimes } from '../http/iso-time.ts';
import { desiredState } from '../policy/desired-state.ts';
import { checkPolicyDocument, isRemoval } from '../policy/document.ts';
import { hostScope, nodeScope, type PolicyScope } from '../policy/merge.ts';
import { badRequest, PolicyRefusal } from '../policy/refusal.ts';
import { guarded, Id, nodeOut, policyOut, SnParams } from './policy-http.ts';
import { treeRoutes } from './tree.ts';

const DriftQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) },
  { additionalProperties: false },
);

export async function policyRoutes(
  app: FastifyInstance,
  ctx: PartContext<PackageStore & EventStore & PolicyPart>,
): Promise<void> {
  await treeRoutes(app, ctx);
  policyLevelRoutes(app, ctx, '/policy/root', undefined, () => 'root');
  policyLevelRoutes(app, ctx, '/policy/node/:id', Id, (p) => nodeScope((p as { id: number }).id));
  policyLevelRoutes(app, ctx, '/policy/host/:agentsn', SnParams, (p) => hostScope((p as { agentsn: string }).agentsn));
  effectivePolicyRoute(app, ctx);
}

/** GET /host/:agentsn/policy: the effective policy, the last applied hash, the drift events, a failure since. */
function effectivePolicyRoute(app: FastifyInstance, ctx: PartContext<PackageStore & EventStore & PolicyPart>): void {
  const ds = () => desiredState(ctx.store, ctx.clock);
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
      const failed = (await ctx.store.listEvents({ agentsn: sn, kind: 'policy_failed' }, paging(1))).items[0];
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
          // The newest pull or apply that failed, shown while no policy was applied after it.
          failed: failed && (!applied || failed.id > applied.id) ? withIsoTimes(failed, EVENT_TIME_FIELDS) : null,
        }),
      );
    }),
  );
}

/** GET, PUT, DELETE of the policy of one level. */
function policyLevelRoutes(
  app: FastifyInstance,
  ctx: PartContext<PackageStore & EventStore & PolicyPart>,
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
async function checkPackages(
  ctx: PartContext<PackageStore & EventStore & PolicyPart>,
  doc: PolicyDocument,
): Promise<void> {
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
