/**
 * Polaris REST API (design.md §5) over the command hub, registered under /api/v1/server behind
 * operator auth (the server's operatorPlugins):
 *   POST   /polaris               {id, hosts[], method, cmd | args, timeout, user, group}
 *                                 -> {status, message, id, response: [one entry per host]}
 *   GET    /polaris/agents        connected agents
 *   GET    /polaris/tasks?host=   a host's periodic tasks (task.list relayed)
 *   POST   /polaris/tasks         {host, name, line} (task.add relayed)
 *   DELETE /polaris/tasks?host=&name=   (task.remove relayed)
 *   GET    /polaris/task-results?host=&name=&limit=   stored task.result frames
 *   POST   /polaris/cancel        {hosts[], id | name}: stop a running request / periodic run (polaris-cancel.ts)
 * The task routes are in polaris-task-routes.ts, the frames and the fan-out in polaris-fanout.ts;
 * each route passes the scope and audit gate (polaris-gate.ts) before anything is sent.
 */
import { randomUUID } from 'node:crypto';
import {
  ErrorCode,
  errorMessage,
  ok,
  POLARIS_METHOD_PATTERN,
  polarisCancelRequest,
  polarisRequest,
  type PolarisRequest,
} from '@aspire/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { noteAudit } from '../http/audit.ts';
import { sendError } from '../http/envelope.ts';
import type { CommandHub } from './command-hub.ts';
import { resolveHosts } from './host-resolution.ts';
import { cancelOnHosts } from './polaris-cancel.ts';
import { fanOut } from './polaris-fanout.ts';
import { outcomeCounts, POLARIS_PATH, polarisGate } from './polaris-gate.ts';
import { polarisTaskRoutes } from './polaris-task-routes.ts';

export { fanOut } from './polaris-fanout.ts';
export { POLARIS_PATH } from './polaris-gate.ts';

const docOnly = { validatorCompiler: () => () => true };

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
          summary: 'Run sync.bash / getinfo.* / task.* on connected BasicAgents (design.md §5 Polaris)',
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

    polarisTaskRoutes(app, hub, timed);
  };
}
