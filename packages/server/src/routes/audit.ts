/** GET /audit: the audit log (admin), paged (offset limit order sortby) and filtered. No route writes it. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { PartContext } from '../app-context.ts';
import type { OperatorStore } from '../store/operator-store.ts';
import { ok } from '../http/envelope.ts';
import { pagingQuery, toPaging } from '../http/paging.ts';
import { AuditPage } from '../http/response-schemas.ts';
import { AUDIT_TIME_FIELDS, withIsoTimes } from '../http/iso-time.ts';

const AuditQuery = pagingQuery('audit', {
  token: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'token name' })),
  route: Type.Optional(
    Type.String({ minLength: 1, maxLength: 256, description: 'route as registered, e.g. /api/v1/server/polaris' }),
  ),
  since: Type.Optional(Type.Integer({ minimum: 0, description: 'unix seconds, inclusive' })),
  until: Type.Optional(Type.Integer({ minimum: 0, description: 'unix seconds, inclusive' })),
  agentsn: Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, description: 'rows whose hosts= selector names this host' }),
  ),
});

export async function auditRoutes(app: FastifyInstance, ctx: PartContext<OperatorStore>): Promise<void> {
  app.get<{ Querystring: Static<typeof AuditQuery> }>(
    '/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'The audit log: who did what, where, with what outcome (admin); paged',
        querystring: AuditQuery,
        response: { 200: AuditPage },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const p = await ctx.store.listAudit(
        {
          token: q.token,
          route: q.route,
          since: q.since === undefined ? undefined : q.since * 1000,
          until: q.until === undefined ? undefined : q.until * 1000 + 999,
          agentsn: q.agentsn,
        },
        toPaging(q),
      );
      return reply.send(
        ok({
          count: p.count,
          offset: p.offset,
          limit: p.limit,
          audit: p.items.map((a) => withIsoTimes(a, AUDIT_TIME_FIELDS)),
        }),
      );
    },
  );
}
