/**
 * One Polaris request to the agents: the frame each host gets (only the fields of its method,
 * the operator's signature carried as is) and the fan-out to every named host, here or, in a
 * cluster, through the node that holds it.
 */
import {
  ErrorCode,
  checkSyncBashTimeout,
  failedReply,
  type PolarisHostReply,
  type PolarisRequest,
  type ReplyFrame,
} from '@aspire/protocol';
import type { CommandHub } from './command-hub.ts';
import { ambiguousFailure, resolveHosts, type ResolvedHosts } from './host-resolution.ts';

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
