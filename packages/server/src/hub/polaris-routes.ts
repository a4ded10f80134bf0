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
 *   POST   /polaris/cancel        {hosts[], id | name}: stop a running request / periodic run (polaris-cancel.ts)
 * Each route passes the scope and audit gate (polaris-gate.ts) before anything is sent.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import {
  ErrorCode,
  POLARIS_METHOD_PATTERN,
  checkSyncBashTimeout,
  errorMessage,
  ok,
  polarisCancelRequest,
  polarisRequest,
  type PolarisHostReply,
  type PolarisRequest,
  type ReplyFrame,
  failedReply,
} from '@aspire/protocol';
import { noteAudit } from '../http/audit.ts';
import { sendError } from '../http/envelope.ts';
import { MAX_LIMIT, parseBoundedInt } from '../http/paging.ts';
import type { CommandHub } from './command-hub.ts';
import { ambiguousFailure, resolveHosts, type ResolvedHosts } from './host-resolution.ts';
import { cancelOnHosts } from './polaris-cancel.ts';
import { polarisGate } from './polaris-gate.ts';

export const POLARIS_PATH = '/polaris';

/** Query strings of the GET/DELETE routes: one string each (a repeated parameter is a 400, not an array reaching SQL). */
const HostQuery = {
  type: 'object',
  properties: {
    host: { type: 'string', maxLength: 255 },
    name: { type: 'string', maxLength: 255 },
    limit: { type: 'string', maxLength: 64, description: 'task-results: integer 1..1000, default 100' },
  },
} as const;

const docOnly = { validatorCompiler: () => () => true };

/** "2 hosts: 1 success, 1 failed" for the audit (never the output). */
function outcomeCounts(response: readonly PolarisHostReply[]): string {
  const okCount = response.filter((r) => r.resp === 'success').length;
  return `${response.length} hosts: ${okCount} success, ${response.length - okCount} failed`;
}

/** The agent frame for one Polaris request (only the fields of its method go out). */
function agentFrame(
  req: PolarisRequest,
  id: string,
): { frame: Record<string, unknown> & { id: string; method: string }; timeoutS?: number } | { error: string } {
  const method = req.method;
  if (method === 'sync.bash') {
    if (typeof req.cmd !== 'string' || req.cmd.length === 0) return { error: 'sync.bash needs cmd' };
    // The agent applies the same rule; refusing here keeps a bad timeout off every host.
    const timeout = checkSyncBashTimeout(req.timeout);
    if (!timeout.ok) return { error: timeout.error };
    const timeoutS = timeout.seconds;
    const frame: Record<string, unknown> & { id: string; method: string } = {
      id,
      method,
      cmd: req.cmd,
      timeout: timeoutS,
    };
    if (req.user) frame.user = req.user;
    if (req.group) frame.group = req.group;
    withOperatorSignature(req, frame);
    return { frame, timeoutS };
  }
  if (method.startsWith('getinfo.'))
    return { frame: { id, method, ...(req.args !== undefined ? { args: req.args } : {}) } };
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
export async function fanOut(
  hub: CommandHub,
  req: PolarisRequest,
  id: string,
  given?: ResolvedHosts,
): Promise<PolarisHostReply[] | { error: string }> {
  const resolved = given ?? resolveHosts(hub, req.hosts);
  const built = agentFrame(req, id);
  if ('error' in built) return built;
  // The agent kills the command at its timeout; the grace covers the kill escalation and the trip back.
  const deadline =
    built.timeoutS !== undefined ? built.timeoutS * 1000 + hub.options.replyGraceMs : hub.options.defaultDeadlineMs;
  // Hosts not connected here: in a cluster the nodes holding them answer (one presence lookup,
  // one message per node; 203 at once for a host held nowhere); on one node, 203.
  const elsewhere = hub.cluster
    ? req.hosts.filter((h) => (resolved.get(h) ?? hub.registry.lookup(h)).kind === 'none')
    : [];
  const routed =
    hub.cluster && elsewhere.length > 0 ? hub.cluster.routeMany(elsewhere, built.frame, deadline) : undefined;
  return Promise.all(
    req.hosts.map(async (host): Promise<PolarisHostReply> => {
      const found = resolved.get(host) ?? hub.registry.lookup(host);
      const r: ReplyFrame =
        found.kind === 'found'
          ? await found.conn.request(built.frame, deadline)
          : found.kind === 'ambiguous'
            ? ambiguousFailure(id, host, found.count)
            : ((await (await routed)?.get(host)) ?? failedReply(id, ErrorCode.NO_SUCH_HOST));
      const { id: _id, ...rest } = r;
      return { host, ...rest };
    }),
  );
}

export interface PolarisRouteOptions {
  /** Wraps every fan-out (the server's metrics time it: aspire_fanout_duration_seconds). */
  timeFanOut?: <T>(run: () => Promise<T>) => Promise<T>;
}

export function polarisRoutes(hub: CommandHub, opts: PolarisRouteOptions = {}): FastifyPluginAsync {
  const timed = opts.timeFanOut ?? (<T>(run: () => Promise<T>) => run());
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
        if (!v.ok) return sendError(reply, 'BAD_REQUEST', v.errors.join('; '));
        if (!POLARIS_METHOD_PATTERN.test(v.value.method)) {
          return sendError(
            reply,
            'BAD_REQUEST',
            `method ${JSON.stringify(v.value.method)}: use sync.bash, getinfo.NAME, task.add, task.remove or task.list`,
          );
        }
        const r = v.value as PolarisRequest & { line?: unknown };
        const resolved = resolveHosts(hub, r.hosts);
        const refused = await polarisGate(request, reply, {
          hosts: r.hosts,
          resolved,
          method: r.method,
          ...(typeof r.cmd === 'string' ? { cmd: r.cmd } : {}),
          ...(typeof r.user === 'string' ? { user: r.user } : {}),
          ...(typeof r.group === 'string' ? { group: r.group } : {}),
          ...(typeof r.line === 'string' ? { line: r.line } : {}),
        });
        if (refused) return refused;
        const id = v.value.id ?? randomUUID();
        const response = await timed(() => fanOut(hub, v.value, id, resolved));
        if ('error' in response) return sendError(reply, 'BAD_REQUEST', response.error);
        noteAudit(request, { outcome: outcomeCounts(response) });
        return ok({ id, response });
      },
    );

    app.post(
      POLARIS_PATH + '/cancel',
      {
        ...docOnly,
        schema: {
          tags: ['polaris'],
          summary:
            'Stop a running Polaris request (id) or periodic run (name) on each host: its process group is killed as on a timeout',
          description: `One answer per host. The cancelled request answers ${ErrorCode.EXEC_CANCELLED} "${errorMessage(ErrorCode.EXEC_CANCELLED)}"; nothing running under that id or name answers ${ErrorCode.CHANNEL_NOTHING_TO_CANCEL}.`,
          body: polarisCancelRequest.schema,
        },
      },
      async (request, reply) => {
        const v = polarisCancelRequest.validate(request.body);
        if (!v.ok) return sendError(reply, 'BAD_REQUEST', v.errors.join('; '));
        if ((v.value.id === undefined) === (v.value.name === undefined))
          return sendError(
            reply,
            'BAD_REQUEST',
            'give exactly one of id (a running POST /polaris request) and name (a periodic task)',
          );
        const what = v.value.id !== undefined ? `id=${v.value.id}` : `name=${v.value.name ?? ''}`;
        const resolved = resolveHosts(hub, v.value.hosts);
        const refused = await polarisGate(request, reply, {
          hosts: v.value.hosts,
          resolved,
          method: 'cancel',
          cmd: what,
        });
        if (refused) return refused;
        const response = await cancelOnHosts(hub, v.value, resolved);
        noteAudit(request, { outcome: outcomeCounts(response) });
        return ok({ response });
      },
    );

    app.get(
      POLARIS_PATH + '/agents',
      { schema: { tags: ['polaris'], summary: 'BasicAgents connected to this server' } },
      async () =>
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
      POLARIS_PATH + '/tasks',
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
      POLARIS_PATH + '/tasks',
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
      POLARIS_PATH + '/tasks',
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
      POLARIS_PATH + '/task-results',
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
  };
}
