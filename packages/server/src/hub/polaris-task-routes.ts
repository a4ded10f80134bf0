/**
 * Polaris routes for one host's periodic tasks: list, add and remove relayed to its agent
 * (task.list, task.add, task.remove), and the task results the server stored. Each passes the
 * scope and audit gate first.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, ok, type PolarisRequest } from '@aspire/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { noteAudit } from '../http/audit.ts';
import { sendError } from '../http/envelope.ts';
import { MAX_LIMIT, parseBoundedInt } from '../http/paging.ts';
import type { CommandHub } from './command-hub.ts';
import { resolveHosts } from './host-resolution.ts';
import { fanOut } from './polaris-fanout.ts';
import { outcomeCounts, POLARIS_PATH, polarisGate } from './polaris-gate.ts';

/** Query strings of the GET/DELETE routes: one string each (a repeated parameter is a 400, not an array reaching SQL). */
const HostQuery = {
  type: 'object',
  properties: {
    host: { type: 'string', maxLength: 255 },
    name: { type: 'string', maxLength: 255 },
    limit: { type: 'string', maxLength: 64, description: 'task-results: integer 1..1000, default 100' },
  },
} as const;

/** Register the periodic-task routes under `/polaris`; `timed` wraps each fan-out (metrics). */
export function polarisTaskRoutes(
  app: FastifyInstance,
  hub: CommandHub,
  timed: <T>(run: () => Promise<T>) => Promise<T>,
): void {
  const one = async (
    host: string,
    frame: Record<string, unknown> & { method: string; line?: string },
    request: FastifyRequest,
    reply: FastifyReply,
  ) => {
    const resolved = resolveHosts(hub, [host]);
    const refused = await polarisGate(request, reply, {
      hosts: [host],
      resolved,
      method: frame.method,
      ...(frame.line !== undefined ? { line: frame.line } : {}),
    });
    if (refused) return refused;
    const r = await timed(() => fanOut(hub, { hosts: [host], ...frame } as PolarisRequest, randomUUID(), resolved));
    if ('error' in r) return sendError(reply, 'BAD_REQUEST', r.error);
    const answer = r[0]!;
    noteAudit(request, { outcome: outcomeCounts(r) });
    if (answer.retcode === ErrorCode.NO_SUCH_HOST) return sendError(reply, 'NOT_FOUND', `${host}: ${answer.message}`);
    // The envelope's message stays "success" (issue 13 item 1); the agent's message is in the per-host entry.
    const { message: _agentMessage, ...fields } = answer;
    return ok({ ...fields, response: [answer] });
  };

  app.get<{ Querystring: { host?: string } }>(
    `${POLARIS_PATH}/tasks`,
    {
      schema: {
        tags: ['polaris'],
        summary: "A host's periodic tasks (crontab and server-added), with invalid crontab lines",
        querystring: HostQuery,
      },
    },
    async (request, reply) => {
      const host = request.query.host;
      if (!host) return sendError(reply, 'BAD_REQUEST', 'host is required');
      return one(host, { method: 'task.list' }, request, reply);
    },
  );
  app.post<{ Body: { host?: unknown; name?: unknown; line?: unknown } }>(
    `${POLARIS_PATH}/tasks`,
    {
      schema: {
        tags: ['polaris'],
        summary: 'Add (or replace) a periodic task on a host; kept on the host across restarts',
      },
    },
    async (request, reply) => {
      const b = request.body ?? {};
      if (typeof b.host !== 'string' || typeof b.name !== 'string' || typeof b.line !== 'string') {
        return sendError(reply, 'BAD_REQUEST', 'host, name and line are required strings');
      }
      return one(
        b.host,
        {
          method: 'task.add',
          name: b.name,
          line: b.line,
          ...((b as { opsig?: unknown }).opsig !== undefined ? { opsig: (b as { opsig?: unknown }).opsig } : {}),
        },
        request,
        reply,
      );
    },
  );
  app.delete<{ Querystring: { host?: string; name?: string } }>(
    `${POLARIS_PATH}/tasks`,
    {
      schema: {
        tags: ['polaris'],
        summary: 'Remove a server-added periodic task from a host',
        querystring: HostQuery,
      },
    },
    async (request, reply) => {
      const { host, name } = request.query;
      if (!host || !name) return sendError(reply, 'BAD_REQUEST', 'host and name are required');
      return one(host, { method: 'task.remove', name }, request, reply);
    },
  );
  app.get<{ Querystring: { host?: string; name?: string; limit?: string } }>(
    `${POLARIS_PATH}/task-results`,
    {
      schema: {
        tags: ['polaris'],
        summary: 'Stored periodic-task results of a host (oldest first)',
        querystring: HostQuery,
      },
    },
    async (request, reply) => {
      const { host, name } = request.query;
      if (!host) return sendError(reply, 'BAD_REQUEST', 'host is required');
      const refused = await polarisGate(request, reply, {
        hosts: [host],
        resolved: resolveHosts(hub, [host]),
        method: 'task-results',
        storedOnly: true,
      });
      if (refused) return refused;
      // 1.5 or 1e20 would reach SQLite's LIMIT (a 500): the paging parser answers 400 instead.
      const limit = parseBoundedInt('limit', request.query.limit, 100, 1, MAX_LIMIT);
      const items = await hub.store.listTaskResults({ host, ...(name ? { name } : {}), limit });
      return ok({ host, count: items.length, items });
    },
  );
}
