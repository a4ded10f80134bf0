/**
 * Cancel on the command channel (docs/basic-agent.md "Cancelling what runs"): the `cancel`
 * frames behind POST /polaris/cancel. `id` names a POST /polaris request still waiting for a
 * host's reply (the agent only ever saw the hub's id for it, so the connection maps it), `name`
 * a periodic task whose run is going. Signed like every frame (AgentConnection.request).
 *
 * In a cluster (docs/scale.md) a host connected to another node gets the cancel there: the
 * cluster routes `{method: 'cancel', request | name}` and that node maps the request id on its
 * own connection (cancelOnConnection), since only it holds the host's pending requests.
 */
import { randomUUID } from 'node:crypto';
import {
  ErrorCode,
  errorMessage,
  type PolarisCancelRequest,
  type PolarisHostReply,
  type ReplyFrame,
  failedReply,
} from '@aspire/protocol';
import type { AgentConnection } from './agent-connection.ts';
import type { CommandHub } from './command-hub.ts';
import { ambiguousFailure, type ResolvedHosts } from './host-resolution.ts';

/** What to cancel on one host: a Polaris request by its id, or a periodic task's run by name. */
export type CancelSpec = { request: string } | { name: string };

/** The frame a cancel is routed to another node with (cluster.ts hands it to cancelOnConnection there). */
export function routedCancelFrame(cancelId: string, spec: CancelSpec): { id: string; method: 'cancel' } & CancelSpec {
  return { id: cancelId, method: 'cancel', ...spec };
}

/** A routed cancel frame read back into its spec (undefined: neither a string request nor name). */
export function cancelSpecOf(frame: Record<string, unknown>): CancelSpec | undefined {
  if (typeof frame.request === 'string') return { request: frame.request };
  if (typeof frame.name === 'string') return { name: frame.name };
  return undefined;
}

/** Cancel on one connection of this node; the reply carries cancelId. */
export async function cancelOnConnection(
  conn: AgentConnection,
  spec: CancelSpec,
  cancelId: string,
  deadlineMs: number,
): Promise<ReplyFrame> {
  if ('name' in spec) return conn.request({ id: cancelId, method: 'cancel', name: spec.name }, deadlineMs);
  const targets = conn.pendingIdsOf(spec.request);
  if (targets.length === 0) {
    const why = `${errorMessage(ErrorCode.CHANNEL_NOTHING_TO_CANCEL)}: no request ${spec.request} is waiting for this host's reply`;
    return failedReply(cancelId, ErrorCode.CHANNEL_NOTHING_TO_CANCEL, why);
  }
  const replies = await Promise.all(
    targets.map((target) => conn.request({ id: cancelId, method: 'cancel', target }, deadlineMs)),
  );
  return replies.find((r) => r.resp === 'success') ?? replies[0]!;
}

/**
 * One answer per host, in the order asked. A host not connected here is cancelled on the node
 * holding it (cluster), else answers NO_SUCH_HOST.
 */
export async function cancelOnHosts(
  hub: CommandHub,
  req: PolarisCancelRequest,
  resolved?: ResolvedHosts,
): Promise<PolarisHostReply[]> {
  const cancelId = randomUUID();
  const deadline = hub.options.defaultDeadlineMs;
  const spec: CancelSpec = req.name !== undefined ? { name: req.name } : { request: req.id ?? '' };
  const lookup = (host: string) => resolved?.get(host) ?? hub.registry.lookup(host);
  const elsewhere = hub.cluster ? req.hosts.filter((h) => lookup(h).kind === 'none') : [];
  const routed =
    hub.cluster && elsewhere.length > 0
      ? hub.cluster.routeMany(elsewhere, routedCancelFrame(cancelId, spec), deadline)
      : undefined;
  return Promise.all(
    req.hosts.map(async (host): Promise<PolarisHostReply> => {
      const found = lookup(host);
      if (found.kind === 'ambiguous') return { host, ...withoutId(ambiguousFailure(cancelId, host, found.count)) };
      if (found.kind === 'none') {
        const r = (await (await routed)?.get(host)) ?? failedReply(cancelId, ErrorCode.NO_SUCH_HOST);
        return { host, ...withoutId(r) };
      }
      return { host, ...withoutId(await cancelOnConnection(found.conn, spec, cancelId, deadline)) };
    }),
  );
}

function withoutId(r: ReplyFrame): Omit<ReplyFrame, 'id'> {
  const { id: _id, ...rest } = r;
  return rest;
}
