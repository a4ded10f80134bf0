/**
 * GET /api/v1/server/cluster/nodes (operator, viewer and up): the live nodes of the cluster, the
 * address agents are redirected to and how many BasicAgents each holds (docs/scale.md).
 */
import type { FastifyPluginAsync } from 'fastify';
import { ok } from '@aspire/protocol';
import type { Cluster } from './cluster.ts';

export function clusterRoutes(cluster: Cluster): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/cluster/nodes',
      {
        schema: {
          tags: ['cluster'],
          summary: 'Live server nodes sharing this PostgreSQL, with their connected BasicAgents',
        },
      },
      async () => {
        const nodes = await cluster.nodes();
        // placement: what this node's redirects go by (refreshed every heartbeat).
        return ok({ self: cluster.nodeId, count: nodes.length, nodes, placement: cluster.placement() });
      },
    );
  };
}
