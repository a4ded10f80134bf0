/** Hosts: GET /agent?agentsn= (one host, design.md §5), GET /host (filtered page), DELETE /host, POST /host/:agentsn/reset, PUT /host/region. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { HostStatus } from '@aspire/protocol';
import type { PartContext } from '../app-context.ts';
import type { HostStore } from '../store/host-store.ts';
import { ok, sendError } from '../http/envelope.ts';
import { pagingQuery, toPaging } from '../http/paging.ts';
import { HostAnswer, HostPage } from '../http/response-schemas.ts';
import { HOST_TIME_FIELDS, withIsoTimes } from '../http/iso-time.ts';

const Sn = Type.String({ minLength: 1, maxLength: 64 });
const HostQuery = pagingQuery('hosts', {
  status: Type.Optional(Type.String({ enum: Object.values(HostStatus) })),
  region: Type.Optional(Type.Integer({ minimum: 0 })),
  tag: Type.Optional(
    Type.String({ pattern: '^[^=,]+=[^=,]*$', maxLength: 256, description: 'k=v, bound or reported' }),
  ),
  os: Type.Optional(Type.String({ maxLength: 64 })),
  arch: Type.Optional(Type.String({ maxLength: 16 })),
  version: Type.Optional(Type.String({ maxLength: 64 })),
  hostname: Type.Optional(Type.String({ maxLength: 255 })),
  search: Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, description: 'case-insensitive prefix of hostname or AgentSN' }),
  ),
});
const SnQuery = Type.Object({ agentsn: Sn }, { additionalProperties: false });
const RegionBody = Type.Object(
  { agents: Type.Array(Sn, { minItems: 1, maxItems: 100_000 }), region: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);

export async function hostRoutes(app: FastifyInstance, ctx: PartContext<HostStore>): Promise<void> {
  app.get<{ Querystring: Static<typeof SnQuery> }>(
    '/agent',
    {
      schema: {
        tags: ['host'],
        summary: 'One host by AgentSN, with its reported agents[] (answer: {host})',
        querystring: SnQuery,
        response: { 200: HostAnswer },
      },
    },
    async (request, reply) => {
      const host = await ctx.store.getHost(request.query.agentsn);
      if (!host) return sendError(reply, 'NOT_FOUND', `no host ${request.query.agentsn}`);
      return reply.send(ok({ host: withIsoTimes(host, HOST_TIME_FIELDS) }));
    },
  );

  app.get<{ Querystring: Static<typeof HostQuery> }>(
    '/host',
    {
      schema: {
        tags: ['host'],
        summary: 'Hosts filtered by status, region, tag, os, arch, version; paged',
        querystring: HostQuery,
        response: { 200: HostPage },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const page = await ctx.store.listHosts(
        {
          status: q.status,
          region: q.region,
          tag: q.tag,
          os: q.os,
          arch: q.arch,
          version: q.version,
          hostname: q.hostname,
          search: q.search,
        },
        toPaging(q),
      );
      return reply.send(
        ok({
          count: page.count,
          offset: page.offset,
          limit: page.limit,
          hosts: page.items.map((h) => withIsoTimes(h, HOST_TIME_FIELDS)),
        }),
      );
    },
  );

  app.delete<{ Querystring: Static<typeof SnQuery> }>(
    '/host',
    {
      schema: {
        tags: ['host'],
        summary: 'Mark a host deleted (it comes back online if it pushes again)',
        querystring: SnQuery,
      },
    },
    async (request, reply) => {
      const r = await ctx.store.deleteHost(request.query.agentsn, ctx.clock.now());
      if (!r.ok) return sendError(reply, 'NOT_FOUND', r.cause);
      // A deleted host keeps no command channel (its certificate is refused from now on).
      ctx.closeHostChannel?.(request.query.agentsn, 'host deleted by an operator');
      // A second DELETE (issue 13 item 1): success, saying so.
      return reply.send(r.value.deleted === 0 ? { ...ok(r.value), cause: 'already deleted' } : ok(r.value));
    },
  );

  app.post<{ Params: Static<typeof SnQuery> }>(
    '/host/:agentsn/reset',
    {
      schema: {
        tags: ['host'],
        summary:
          "Reset a host's registration: its credential is cleared (a deleted host is registered again), so the next /agent/register for this AgentSN is accepted without proof and issues a new credential and certificate",
        params: SnQuery,
      },
    },
    async (request, reply) => {
      const r = await ctx.store.resetHost(request.params.agentsn, ctx.clock.now());
      if (!r.ok) return sendError(reply, 'NOT_FOUND', r.cause);
      request.log.warn({ agentsn: request.params.agentsn }, 'host registration reset by an operator');
      // Its certificates are void until it registers again: the live channel goes too.
      ctx.closeHostChannel?.(request.params.agentsn, 'host registration reset by an operator');
      return reply.send(ok(r.value));
    },
  );

  app.put<{ Body: Static<typeof RegionBody> }>(
    '/host/region',
    { schema: { tags: ['host'], summary: 'Put hosts into a region', body: RegionBody } },
    async (request, reply) => {
      const r = await ctx.store.setHostRegion(request.body.agents, request.body.region, ctx.clock.now());
      if (!r.ok) return sendError(reply, 'NOT_FOUND', r.cause);
      return reply.send(ok(r.value));
    },
  );
}
