/**
 * Polaris REST API (seed 001) over the command hub, registered under /api/v1/server behind
 * operator auth (the server's operatorPlugins):
 *   POST   /polaris               {id, hosts[], method, cmd | args, timeout, user, group}
 *                                 -> {status, message, id, response: [one entry per host]}
 *   GET    /polaris/agents        connected agents
 *   GET    /polaris/tasks?host=   a host's periodic tasks (task.list relayed)
 *   POST   /polaris/tasks         {host, name, line} (task.add relayed)
 *   DELETE /polaris/tasks?host=&name=   (task.remove relayed)
 *   GET    /polaris/task-results?host=&name=&limit=   stored task.result frames
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import {
  ErrorCode,
  POLARIS_METHOD_PATTERN,
  checkSyncBashTimeout,
  errorMessage,
  fail,
  ok,
  polarisRequest,
  type PolarisHostReply,
  type PolarisRequest,
  type ReplyFrame,
} from '@aspire/protocol';
import { failure } from './agent-connection.ts';
import type { CommandHub } from './command-hub.ts';

export const POLARIS_PATH = '/polaris';

const docOnly = { validatorCompiler: () => () => true };

function sendFail(reply: FastifyReply, name: Parameters<typeof fail>[0], cause: string): FastifyReply {
  const f = fail(name, cause);
  return reply.code(f.http).send(f.body);
}

/** The agent frame for one Polaris request (only the fields of its method go out). */
function agentFrame(req: PolarisRequest, id: string): { frame: Record<string, unknown> & { id: string; method: string }; timeoutS?: number } | { error: string } {
  const method = req.method;
  if (method === 'sync.bash') {
    if (typeof req.cmd !== 'string' || req.cmd.length === 0) return { error: 'sync.bash needs cmd' };
    // The agent applies the same rule; refusing here keeps a bad timeout off every host.
    const timeout = checkSyncBashTimeout(req.timeout);
    if (!timeout.ok) return { error: timeout.error };
    const timeoutS = timeout.seconds;
    const frame: Record<string, unknown> & { id: string; method: string } = { id, method, cmd: req.cmd, timeout: timeoutS };
    if (req.user) frame.user = req.user;
    if (req.group) frame.group = req.group;
    withOperatorSignature(req, frame);
    return { frame, timeoutS };
  }
  if (method.startsWith('getinfo.')) return { frame: { id, method, ...(req.args !== undefined ? { args: req.args } : {}) } };
  if (method === 'task.add') {
    const r = req as PolarisRequest & { name?: unknown; line?: unknown };
    if (typeof r.name !== 'string' || typeof r.line !== 'string') return { error: 'task.add needs name and line' };
    return { frame: withOperatorSignature(req, { id, method, name: r.name, line: r.line }) };
  }
  if (method === 'task.remove') {
    const r = req as PolarisRequest & { name?: unknown };
    if (typeof r.name !== 'string') return { error: 'task.remove needs name' };
    return { frame: { id, method, name: r.name } };
  }
  return { frame: { id, method } };
}

/**
 * An operator signature (`opsig`, docs/security.md "The host policy file") goes to the agent
 * untouched: the server cannot make one, only carry what the operator signed with their own key.
 */
function withOperatorSignature<F extends Record<string, unknown>>(req: PolarisRequest, frame: F): F {
  const opsig = (req as { opsig?: unknown }).opsig;
  if (opsig !== undefined) (frame as Record<string, unknown>).opsig = opsig;
  return frame;
}

/** Fan one request out to every named host; one answer per host, in the order asked. */
export async function fanOut(hub: CommandHub, req: PolarisRequest, id: string): Promise<PolarisHostReply[] | { error: string }> {
  const built = agentFrame(req, id);
  if ('error' in built) return built;
  // The agent kills the command at its timeout; the grace covers the kill escalation and the trip back.
  const deadline = built.timeoutS !== undefined ? built.timeoutS * 1000 + hub.options.replyGraceMs : hub.options.defaultDeadlineMs;
  return Promise.all(
    req.hosts.map(async (host): Promise<PolarisHostReply> => {
      const conn = hub.registry.find(host);
      const r: ReplyFrame = conn ? await conn.request(built.frame, deadline) : failure(id, ErrorCode.NO_SUCH_HOST);
      const { id: _id, ...rest } = r;
      return { host, ...rest };
    }),
  );
}

export function polarisRoutes(hub: CommandHub): FastifyPluginAsync {
  return async (app) => {
    app.post(
      POLARIS_PATH,
      {
        ...docOnly,
        schema: {
          tags: ['polaris'],
          summary: 'Run sync.bash / getinfo.* / task.* on connected BasicAgents (seed 001 Polaris)',
          description: `One answer per host in hosts[], in order; a host with no channel connected answers ${ErrorCode.NO_SUCH_HOST} "${errorMessage(ErrorCode.NO_SUCH_HOST)}".`,
          body: polarisRequest.schema,
        },
      },
      async (request, reply) => {
        const v = polarisRequest.validate(request.body);
        if (!v.ok) return sendFail(reply, 'BAD_REQUEST', v.errors.join('; '));
        if (!POLARIS_METHOD_PATTERN.test(v.value.method)) {
          return sendFail(reply, 'BAD_REQUEST', `method ${JSON.stringify(v.value.method)}: use sync.bash, getinfo.NAME, task.add, task.remove or task.list`);
        }
        const id = v.value.id ?? randomUUID();
        const response = await fanOut(hub, v.value, id);
        if ('error' in response) return sendFail(reply, 'BAD_REQUEST', response.error);
        return ok({ id, response });
      },
    );

    app.get(POLARIS_PATH + '/agents', { schema: { tags: ['polaris'], summary: 'BasicAgents connected to this server' } }, async () =>
      ok({
        count: hub.registry.size,
        agents: hub.registry.list().map((c) => ({
          hostname: c.hostname,
          agentsn: c.agentsn ?? null,
          version: c.version ?? null,
          remote: c.remote,
          connected: new Date(c.connectedAt).toISOString(),
          inflight: c.inFlight,
        })),
      }),
    );

    const one = async (host: string, frame: Record<string, unknown> & { method: string }, reply: FastifyReply) => {
      const r = await fanOut(hub, { hosts: [host], ...frame } as PolarisRequest, randomUUID());
      if ('error' in r) return sendFail(reply, 'BAD_REQUEST', r.error);
      const answer = r[0]!;
      if (answer.retcode === ErrorCode.NO_SUCH_HOST) return sendFail(reply, 'NOT_FOUND', `${host}: ${answer.message}`);
      return ok({ ...answer });
    };

    app.get<{ Querystring: { host?: string } }>(
      POLARIS_PATH + '/tasks',
      { schema: { tags: ['polaris'], summary: "A host's periodic tasks (crontab and server-added), with invalid crontab lines" } },
      async (request, reply) => {
        const host = request.query.host;
        if (!host) return sendFail(reply, 'BAD_REQUEST', 'host is required');
        return one(host, { method: 'task.list' }, reply);
      },
    );
    app.post<{ Body: { host?: unknown; name?: unknown; line?: unknown } }>(
      POLARIS_PATH + '/tasks',
      { schema: { tags: ['polaris'], summary: 'Add (or replace) a periodic task on a host; kept on the host across restarts' } },
      async (request, reply) => {
        const b = request.body ?? {};
        if (typeof b.host !== 'string' || typeof b.name !== 'string' || typeof b.line !== 'string') {
          return sendFail(reply, 'BAD_REQUEST', 'host, name and line are required strings');
        }
        return one(b.host, { method: 'task.add', name: b.name, line: b.line, ...((b as { opsig?: unknown }).opsig !== undefined ? { opsig: (b as { opsig?: unknown }).opsig } : {}) }, reply);
      },
    );
    app.delete<{ Querystring: { host?: string; name?: string } }>(
      POLARIS_PATH + '/tasks',
      { schema: { tags: ['polaris'], summary: 'Remove a server-added periodic task from a host' } },
      async (request, reply) => {
        const { host, name } = request.query;
        if (!host || !name) return sendFail(reply, 'BAD_REQUEST', 'host and name are required');
        return one(host, { method: 'task.remove', name }, reply);
      },
    );
    app.get<{ Querystring: { host?: string; name?: string; limit?: string } }>(
      POLARIS_PATH + '/task-results',
      { schema: { tags: ['polaris'], summary: 'Stored periodic-task results of a host (oldest first)' } },
      async (request, reply) => {
        const { host, name } = request.query;
        if (!host) return sendFail(reply, 'BAD_REQUEST', 'host is required');
        const limit = Math.min(1000, Math.max(1, Number(request.query.limit ?? 100) || 100));
        const items = await hub.store.listTaskResults({ host, ...(name ? { name } : {}), limit });
        return ok({ host, count: items.length, items });
      },
    );
  };
}
