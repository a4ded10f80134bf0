/**
 * GET /metrics: the server's Prometheus metrics in the text exposition format (docs/metrics.md).
 * Not public: either the scrape token of config `metricsToken` (a scraper's secret, worth nothing
 * on the operator API) or an operator token with at least the viewer role, through the same gate
 * as /api/v1/server (address allow lists, revocation). Scrapes are not audited (every 15 s).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.ts';
import { operatorAuth } from '../http/operator-auth.ts';
import { sameSecret } from '../http/secrets.ts';

export const METRICS_PATH = '/metrics';

const BEARER = /^Bearer (\S{1,512})$/;

export async function metricsRoute(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const operator = operatorAuth({ store: ctx.store, clock: ctx.clock, serverCidrs: ctx.config.operatorCidrs });
  const scrapeToken = ctx.config.metricsToken;
  const gate = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (scrapeToken !== undefined) {
      const m = typeof request.headers.authorization === 'string' ? BEARER.exec(request.headers.authorization) : null;
      if (m && sameSecret(m[1]!, scrapeToken)) return undefined;
    }
    return operator(request, reply);
  };
  app.get(
    METRICS_PATH,
    {
      onRequest: gate,
      schema: {
        tags: ['metrics'],
        summary:
          'Prometheus metrics (text format 0.0.4): hosts, status pushes, hub, fan-out, subtasks, store, process, fleet self-reports',
        description: 'Authorization: Bearer <metricsToken> (config) or an operator token (viewer role or above).',
        security: [{ bearer: [] }],
      },
    },
    async (_request, reply) => {
      const text = await ctx.metrics.render();
      return reply.header('content-type', ctx.metrics.contentType).header('cache-control', 'no-store').send(text);
    },
  );
}
