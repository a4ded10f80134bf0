/**
 * The gate of every Polaris route: a request checked against the token's scope (hosts, the
 * commands and run-as users it would run) and noted for the audit before anything is sent.
 */
import type { PolarisHostReply } from '@aspire/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { auditDispatch, hostsSelector, noteAudit } from '../http/audit.ts';
import { sendError } from '../http/envelope.ts';
import { operatorOf } from '../http/operator.ts';
import { scopeRefusal, taskLineReadings } from '../http/scope-gate.ts';
import type { ResolvedHosts } from './host-resolution.ts';

/** Where the Polaris routes live under /api/v1/server. */
export const POLARIS_PATH = '/polaris';

/** What a Polaris request asks hosts to do, as the scope check and the audit see it. */
export interface PolarisIntent {
  hosts: string[];
  resolved: ResolvedHosts;
  method: string;
  cmd?: string;
  user?: string;
  group?: string;
  line?: string;
  /** The request only reads what the server stored (task results): hosts checked, no command. */
  storedOnly?: boolean;
}

/**
 * Check a Polaris request against the token's scope and note it for the audit; on success the
 * dispatch row is written (before anything is sent). Answers the 403 when something is outside.
 */
export async function polarisGate(
  request: FastifyRequest,
  reply: FastifyReply,
  intent: PolarisIntent,
): Promise<FastifyReply | undefined> {
  const op = operatorOf(request)!;
  let readings: { user?: string; command: string }[];
  if (intent.storedOnly) readings = [];
  else if (intent.method === 'sync.bash') readings = [{ user: intent.user || 'root', command: intent.cmd ?? '' }];
  // A cancel runs nothing: hosts are checked, no command or user.
  else if (intent.method === 'cancel') readings = [];
  else if (intent.method === 'task.add')
    readings = taskLineReadings(intent.line ?? '').map((r) => ({ user: r.user, command: r.command }));
  else readings = [{ command: intent.method }];
  noteAudit(request, {
    targets: intent.hosts.length,
    selector: hostsSelector(intent.hosts),
    sendsCommand: !intent.storedOnly,
    ...(intent.method === 'cancel' ? { command: `cancel ${intent.cmd ?? ''}` } : {}),
    ...(readings[0]
      ? {
          command:
            intent.method === 'sync.bash' || intent.method.startsWith('getinfo.') || intent.method === 'task.list'
              ? readings[0].command
              : `${intent.method}: ${intent.line ?? readings[0].command}`,
        }
      : {}),
    ...(readings[0]?.user !== undefined ? { runAs: readings[0].user } : {}),
  });
  const refusal = await scopeRefusal(op, {
    hosts: intent.hosts.map((name) => {
      const r = intent.resolved.get(name);
      const c = r?.kind === 'found' ? r.conn : undefined;
      return { name, ...(c ? { hint: { hostname: c.hostname, ...(c.agentsn ? { agentsn: c.agentsn } : {}) } } : {}) };
    }),
    commands: [...new Set(readings.map((r) => r.command))],
    users: [...new Set(readings.flatMap((r) => (r.user === undefined ? [] : [r.user])))],
    ...(intent.method === 'sync.bash' && intent.group ? { groups: [intent.group] } : {}),
  });
  if (refusal) return sendError(reply, 'FORBIDDEN', refusal);
  if (!intent.storedOnly) await auditDispatch(request);
  return undefined;
}

/** "2 hosts: 1 success, 1 failed" for the audit (never the output). */
export function outcomeCounts(response: readonly PolarisHostReply[]): string {
  const okCount = response.filter((r) => r.resp === 'success').length;
  return `${response.length} hosts: ${okCount} success, ${response.length - okCount} failed`;
}
