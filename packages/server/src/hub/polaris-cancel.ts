/**
 * Cancel on the command channel (docs/basic-agent.md "Cancelling what runs"): the `cancel`
 * frames behind POST /polaris/cancel. `id` names a POST /polaris request still waiting for a
 * host's reply (the agent only ever saw the hub's id for it, so the connection maps it), `name`
 * a periodic task whose run is going. Signed like every frame (AgentConnection.request).
 */
import { randomUUID } from 'node:crypto';
import {
  ErrorCode,
  errorMessage,
  type PolarisCancelRequest,
  type PolarisHostReply,
  type ReplyFrame,
} from '@aspire/protocol';
import { failure } from './agent-connection.ts';
import type { CommandHub } from './command-hub.ts';
import { ambiguousFailure, type ResolvedHosts } from './host-resolution.ts';

/** One answer per host, in the order asked. Hosts not connected to this server answer NO_SUCH_HOST. */
export async function cancelOnHosts(
  hub: CommandHub,
  req: PolarisCancelRequest,
  resolved?: ResolvedHosts,
): Promise<PolarisHostReply[]> {
  const cancelId = randomUUID();
  const deadline = hub.options.defaultDeadlineMs;
  return Promise.all(
    req.hosts.map(async (host): Promise<PolarisHostReply> => {
      const found = resolved?.get(host) ?? hub.registry.lookup(host);
      if (found.kind === 'ambiguous') return { host, ...withoutId(ambiguousFailure(cancelId, host, found.count)) };
      if (found.kind === 'none') return { host, ...withoutId(failure(cancelId, ErrorCode.NO_SUCH_HOST)) };
      const conn = found.conn;
      if (req.name !== undefined)
        return { host, ...withoutId(await conn.request({ id: cancelId, method: 'cancel', name: req.name }, deadline)) };
      const targets = conn.pendingIdsOf(req.id ?? '');
      if (targets.length === 0) {
        const why = `${errorMessage(ErrorCode.CHANNEL_NOTHING_TO_CANCEL)}: no request ${req.id ?? ''} is waiting for this host's reply`;
        return { host, ...withoutId(failure(cancelId, ErrorCode.CHANNEL_NOTHING_TO_CANCEL, why)) };
      }
      const replies = await Promise.all(
        targets.map((target) => conn.request({ id: cancelId, method: 'cancel', target }, deadline)),
      );
      return { host, ...withoutId(replies.find((r) => r.resp === 'success') ?? replies[0]!) };
    }),
  );
}

function withoutId(r: ReplyFrame): Omit<ReplyFrame, 'id'> {
  const { id: _id, ...rest } = r;
  return rest;
}
