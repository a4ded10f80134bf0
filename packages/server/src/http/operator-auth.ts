/**
 * The operator scope's gate, run on every /api/v1/server request before its route: the server's
 * address allow list (config operatorCidrs), the Bearer token (looked up per request: a revoked
 * token fails at once), the token's own address allow list, and the role the route needs.
 * Refusals: 401 (no or unknown token), 403 (address or role); each names why and is audited.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '@aspire/agent-core';
import { API_PREFIX } from '@aspire/protocol';
import { noteAuditToken } from './audit.ts';
import { sendError } from './envelope.ts';
import { setOperator, type HostFacts, type HostLookup } from './operator.ts';
import { addressAllowed, addressList, checkScope, isRole, roleAtLeast, type Role } from './operator-scope.ts';
import { sha256Hex } from './secrets.ts';
import type { HostRow, HostStore } from '../store/host-store.ts';
import type { OperatorStore } from '../store/operator-store.ts';

/** Routes an operator may call beyond reading; every other non-GET route needs admin. */
const OPERATOR_ROUTES = new Set([
  'POST /task',
  'POST /task/revoke',
  'POST /task/kick',
  'POST /task/touch',
  'POST /task/retry',
  'POST /package',
  'POST /polaris',
  'POST /polaris/cancel',
  'POST /polaris/tasks',
  'DELETE /polaris/tasks',
]);
/** Reads that need admin. */
const ADMIN_READS = new Set(['GET /audit', 'GET /token']);

/** The role a route needs: viewer reads, operator runs commands and tasks, admin the rest. */
export function requiredRole(method: string, route: string): Role {
  const path = route.startsWith(API_PREFIX) ? route.slice(API_PREFIX.length) : route;
  const key = `${method} ${path}`;
  if (method === 'GET' || method === 'HEAD') return ADMIN_READS.has(`GET ${path}`) ? 'admin' : 'viewer';
  return OPERATOR_ROUTES.has(key) ? 'operator' : 'admin';
}

function factsOf(h: HostRow): HostFacts {
  const reported = h.reported_tags ? h.reported_tags.split(',').filter(Boolean) : [];
  return {
    agentsn: h.agentsn,
    hostname: h.hostname,
    tags: [...new Set([...h.tags, ...reported])],
    region: h.region,
    regionName: h.region_name,
  };
}

/** Hosts a name stands for: the AgentSN (the hub's, when the agent sent one), else every host of that hostname. */
export function storeHostLookup(store: Pick<HostStore, 'getHost' | 'listHosts'>): HostLookup {
  return async (name, hint) => {
    const sn = hint?.agentsn ?? name;
    const bySn = await store.getHost(sn);
    if (bySn && bySn.status !== 'deleted') return [factsOf(bySn)];
    // An agent that named its AgentSN is that host or nothing: no guessing by hostname.
    if (hint?.agentsn !== undefined) return [];
    const page = await store.listHosts(
      { hostname: hint?.hostname ?? name },
      { offset: 0, limit: 1000, order: 'asc', sortby: 'id' },
    );
    return page.items.map(factsOf);
  };
}

const BEARER = /^Bearer ([A-Za-z0-9_\-.~+/=]{8,512})$/;

export function operatorAuth(deps: {
  store: Pick<HostStore, 'getHost' | 'listHosts'> & Pick<OperatorStore, 'tokenGrant'>;
  clock: Clock;
  serverCidrs: readonly string[] | undefined;
}) {
  const serverList = addressList(deps.serverCidrs);
  const hosts = storeHostLookup(deps.store);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (!addressAllowed(serverList, request.ip)) {
      return sendError(
        reply,
        'FORBIDDEN',
        `source address ${request.ip} is not in the server's operator address allow list (operatorCidrs)`,
      );
    }
    const h = request.headers.authorization;
    const m = typeof h === 'string' ? BEARER.exec(h) : null;
    const grant = m ? await deps.store.tokenGrant(sha256Hex(m[1]!), deps.clock.now()) : undefined;
    if (grant === undefined)
      return sendError(reply, 'UNAUTHORIZED', 'missing or unknown operator token (Authorization: Bearer <token>)');
    noteAuditToken(request, grant.name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(grant.scope);
    } catch {
      parsed = undefined;
    }
    const checked = checkScope(parsed);
    // A stored grant this server cannot read allows nothing.
    if (!checked.ok || !isRole(grant.role))
      return sendError(
        reply,
        'FORBIDDEN',
        `token ${JSON.stringify(grant.name)} has an unreadable role or scope; recreate it`,
      );
    const scope = checked.scope;
    if (!addressAllowed(addressList(scope.cidrs), request.ip)) {
      return sendError(
        reply,
        'FORBIDDEN',
        `source address ${request.ip} is not in the address allow list of token ${JSON.stringify(grant.name)}`,
      );
    }
    const route = request.routeOptions.url ?? request.url.split('?')[0]!;
    const need = requiredRole(request.method, route);
    if (!roleAtLeast(grant.role, need)) {
      return sendError(
        reply,
        'FORBIDDEN',
        `token ${JSON.stringify(grant.name)} has role ${grant.role}; ${request.method} ${route} needs ${need}`,
      );
    }
    setOperator(request, { name: grant.name, role: grant.role, scope, hosts });
    return undefined;
  };
}
