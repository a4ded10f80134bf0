/** Tags, regions (CRUD with bound-host counts, bind/unbind), events by host and time, dashboard. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { PartContext } from '../app-context.ts';
import type { EventStore } from '../store/event-store.ts';
import type { InventoryStore } from '../store/inventory-store.ts';
import type { PolicyPart } from '../store/store.ts';
import { ok, sendError } from '../http/envelope.ts';
import { pagingQuery, toPaging } from '../http/paging.ts';
import type { Mutation } from '../store/store.ts';
import { desiredState } from '../policy/desired-state.ts';
import { EVENT_TIME_FIELDS, ROW_TIME_FIELDS, withIsoTimes } from '../http/iso-time.ts';

const Name = Type.String({ minLength: 1, maxLength: 64, pattern: '^[^=,\\s]([^=,]*[^=,\\s])?$' });
const Value = Type.String({ maxLength: 64, pattern: '^[^=,]*$' });
const Sn = Type.String({ minLength: 1, maxLength: 64 });
const IdQuery = Type.Object({ id: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });
const TagBody = Type.Object({ name: Name, value: Value }, { additionalProperties: false });
const TagUpdate = Type.Object(
  { id: Type.Integer({ minimum: 1 }), name: Name, value: Value },
  { additionalProperties: false },
);
const BindBody = Type.Object(
  { id: Type.Integer({ minimum: 1 }), agents: Type.Array(Sn, { minItems: 1, maxItems: 100_000 }) },
  { additionalProperties: false },
);
const RegionBody = Type.Object({ name: Name }, { additionalProperties: false });
const RegionUpdate = Type.Object({ id: Type.Integer({ minimum: 0 }), name: Name }, { additionalProperties: false });
const TagQuery = pagingQuery('tags', { name: Type.Optional(Type.String({ maxLength: 64 })) });
const RegionQuery = pagingQuery('regions');
const EventQuery = pagingQuery('events', {
  agentsn: Type.Optional(Sn),
  since: Type.Optional(Type.Integer({ minimum: 0, description: 'unix seconds, inclusive' })),
  until: Type.Optional(Type.Integer({ minimum: 0, description: 'unix seconds, inclusive' })),
  kind: Type.Optional(Type.String({ maxLength: 32 })),
});

/** A tag or region row: the times `withIsoTimes` turns into ISO strings. */
type TimedRow = Record<(typeof ROW_TIME_FIELDS)[number], number>;

function refused(reply: FastifyReply, r: Extract<Mutation<unknown>, { ok: false }>): FastifyReply {
  return sendError(
    reply,
    r.reason === 'not_found' ? 'NOT_FOUND' : r.reason === 'conflict' ? 'CONFLICT' : 'BAD_REQUEST',
    r.cause,
  );
}

/** A mutation that answers fields of its own (a delete or bind count). */
function answer<T extends object>(reply: FastifyReply, r: Mutation<T>): FastifyReply {
  return r.ok ? reply.send(ok(r.value as Record<string, unknown>)) : refused(reply, r);
}

/** A mutation that answers a tag or region row under `key`, its times as ISO 8601 UTC strings (issue 13 item 8). */
function answerRow<T extends TimedRow>(reply: FastifyReply, r: Mutation<T>, key: 'tag' | 'region'): FastifyReply {
  return r.ok ? reply.send(ok({ [key]: withIsoTimes(r.value, ROW_TIME_FIELDS) })) : refused(reply, r);
}

export async function inventoryRoutes(
  app: FastifyInstance,
  ctx: PartContext<InventoryStore & EventStore & PolicyPart>,
): Promise<void> {
  const now = () => ctx.clock.now();
  // Bound tags place hosts in components (docs/lifecycle.md "Desired state"): a change of them
  // moves the policy generation, so every server's cached policy hashes are computed again.
  const boundTagsChanged = async <T>(r: Mutation<T>): Promise<Mutation<T>> => {
    if (r.ok) await desiredState(ctx.store, ctx.clock).changedOutside();
    return r;
  };

  app.get<{ Querystring: Static<typeof TagQuery> }>(
    '/tag',
    { schema: { tags: ['tag'], summary: 'Tags with bound-host counts; paged', querystring: TagQuery } },
    async (req, reply) => {
      const p = await ctx.store.listTags({ name: req.query.name }, toPaging(req.query));
      return reply.send(
        ok({
          count: p.count,
          offset: p.offset,
          limit: p.limit,
          tags: p.items.map((t) => withIsoTimes(t, ROW_TIME_FIELDS)),
        }),
      );
    },
  );
  app.post<{ Body: Static<typeof TagBody> }>(
    '/tag',
    { schema: { tags: ['tag'], summary: 'Create a tag (name=value)', body: TagBody } },
    async (req, reply) => answerRow(reply, await ctx.store.createTag(req.body.name, req.body.value, now()), 'tag'),
  );
  app.put<{ Body: Static<typeof TagUpdate> }>(
    '/tag',
    { schema: { tags: ['tag'], summary: 'Rename a tag', body: TagUpdate } },
    async (req, reply) =>
      answerRow(
        reply,
        await boundTagsChanged(await ctx.store.updateTag(req.body.id, req.body.name, req.body.value, now())),
        'tag',
      ),
  );
  app.delete<{ Querystring: Static<typeof IdQuery> }>(
    '/tag',
    { schema: { tags: ['tag'], summary: 'Delete a tag (and its bindings)', querystring: IdQuery } },
    async (req, reply) => answer(reply, await boundTagsChanged(await ctx.store.deleteTag(req.query.id))),
  );
  app.post<{ Body: Static<typeof BindBody> }>(
    '/tag/bind',
    { schema: { tags: ['tag'], summary: 'Bind a tag to hosts', body: BindBody } },
    async (req, reply) =>
      answer(reply, await boundTagsChanged(await ctx.store.bindTag(req.body.id, req.body.agents, true, now()))),
  );
  app.post<{ Body: Static<typeof BindBody> }>(
    '/tag/unbind',
    { schema: { tags: ['tag'], summary: 'Unbind a tag from hosts', body: BindBody } },
    async (req, reply) =>
      answer(reply, await boundTagsChanged(await ctx.store.bindTag(req.body.id, req.body.agents, false, now()))),
  );

  app.get<{ Querystring: Static<typeof RegionQuery> }>(
    '/region',
    { schema: { tags: ['region'], summary: 'Regions with host counts; paged', querystring: RegionQuery } },
    async (req, reply) => {
      const p = await ctx.store.listRegions(toPaging(req.query));
      return reply.send(
        ok({
          count: p.count,
          offset: p.offset,
          limit: p.limit,
          regions: p.items.map((r) => withIsoTimes(r, ROW_TIME_FIELDS)),
        }),
      );
    },
  );
  app.post<{ Body: Static<typeof RegionBody> }>(
    '/region',
    { schema: { tags: ['region'], summary: 'Create a region', body: RegionBody } },
    async (req, reply) => answerRow(reply, await ctx.store.createRegion(req.body.name, now()), 'region'),
  );
  app.put<{ Body: Static<typeof RegionUpdate> }>(
    '/region',
    { schema: { tags: ['region'], summary: 'Rename a region', body: RegionUpdate } },
    async (req, reply) => answerRow(reply, await ctx.store.updateRegion(req.body.id, req.body.name, now()), 'region'),
  );
  app.delete<{ Querystring: Static<typeof IdQuery> }>(
    '/region',
    { schema: { tags: ['region'], summary: 'Delete a region (its hosts move to region 0)', querystring: IdQuery } },
    async (req, reply) => answer(reply, await ctx.store.deleteRegion(req.query.id)),
  );

  app.get<{ Querystring: Static<typeof EventQuery> }>(
    '/event',
    {
      schema: {
        tags: ['event'],
        summary: 'Events by host, kind and time (occurred, unix s); paged',
        querystring: EventQuery,
      },
    },
    async (req, reply) => {
      const q = req.query;
      const p = await ctx.store.listEvents(
        { agentsn: q.agentsn, since: q.since, until: q.until, kind: q.kind },
        toPaging(q),
      );
      return reply.send(
        ok({
          count: p.count,
          offset: p.offset,
          limit: p.limit,
          events: p.items.map((e) => withIsoTimes(e, EVENT_TIME_FIELDS)),
        }),
      );
    },
  );

  app.get(
    '/dashboard',
    { schema: { tags: ['dashboard'], summary: 'Host and agent counts, computed periodically (dashboardIntervalSec)' } },
    async (_req, reply) => {
      const d = ctx.dashboard();
      if (!d) return sendError(reply, 'UNAVAILABLE', 'dashboard not computed yet');
      return reply.send(ok({ dashboard: withIsoTimes(d, ['computedAt'] as const) }));
    },
  );
}
