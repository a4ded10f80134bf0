/**
 * Operator routes the web console needs beyond the design's REST API (registered in the operator
 * scope, so behind the same Bearer token): GET /dashboard/history, GET /console/host-tasks.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { PartContext } from '../app-context.ts';
import type { HostStore } from '../store/host-store.ts';
import { ok, sendError } from '../http/envelope.ts';
import { Periodic } from '../periodic.ts';
import { DashboardHistory } from './dashboard-history.ts';

const HistoryQuery = Type.Object(
  {
    points: Type.Optional(
      Type.Integer({ minimum: 2, maximum: 2880, default: 360, description: 'at most this many samples' }),
    ),
  },
  { additionalProperties: false },
);

const HostTasksQuery = Type.Object(
  {
    agentsn: Type.String({ minLength: 1, maxLength: 64 }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 20 })),
  },
  { additionalProperties: false },
);

export async function consoleApiRoutes(app: FastifyInstance, ctx: PartContext<HostStore>): Promise<void> {
  const history = new DashboardHistory();
  // Follow the statistics job: look at its latest result once per its interval (a sample is
  // kept only when the computation is new), from the moment the server is ready until it closes.
  const sampler = new Periodic(
    'dashboard-history',
    ctx.clock,
    ctx.config.dashboardIntervalSec * 1000,
    async () => {
      const d = ctx.dashboard();
      if (d) history.record(d);
    },
    ctx.logger,
  );
  app.addHook('onReady', async () => sampler.start());
  app.addHook('onClose', async () => sampler.stop());

  app.get<{ Querystring: Static<typeof HistoryQuery> }>(
    '/dashboard/history',
    {
      schema: {
        tags: ['dashboard'],
        summary: 'Hosts online and total at each dashboard computation since the server started (console chart)',
        querystring: HistoryQuery,
      },
    },
    async (req, reply) => {
      const d = ctx.dashboard();
      if (d) history.record(d);
      return reply.send(ok({ samples: history.samples(req.query.points ?? 360) }));
    },
  );

  app.get<{ Querystring: Static<typeof HostTasksQuery> }>(
    '/console/host-tasks',
    {
      schema: {
        tags: ['task'],
        summary:
          "Tasks that touched one host, newest first: the host's subtasks with their task's command and status (console host page)",
        querystring: HostTasksQuery,
      },
    },
    async (req, reply) => {
      if (!ctx.store.hostSubtasks) return sendError(reply, 'UNAVAILABLE', "this store does not list a host's subtasks");
      return reply.send(ok({ subtasks: await ctx.store.hostSubtasks(req.query.agentsn, req.query.limit ?? 20) }));
    },
  );
}
