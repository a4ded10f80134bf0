/**
 * The host-policy step of a channel request (docs/security.md "The host policy file"): asked
 * after the frame is validated (and after its server signature is verified), before anything
 * runs. A refusal is `resp: failed` with POLICY_REFUSED or POLICY_OPERATOR_SIGNATURE and a
 * message naming the rule; the caller returns it and runs nothing.
 */
import type { Clock, HostPolicy, Logger, PolicyVerdict } from '@aspire/agent-core';
import { policyAllowsCollector, policyAllowsCommand } from '@aspire/agent-core';
import { failedReply, ErrorCode, verifyOperatorSignature, type ReplyFrame, type SignedCommand } from '@aspire/protocol';
import type { OperatorNonceCache } from './operator-nonce-cache.ts';

export interface PolicyGateDeps {
  policy: Readonly<HostPolicy>;
  clock: Clock;
  logger: Logger;
  /** This host's agentsn (an operator signature must name it). */
  agentsn: () => string | undefined;
  /** A user's primary group (tests); default `id -gn` (agent-core primary-group.ts). */
  primaryGroupOf?: (user: string) => string | undefined;
  /** Nonces of accepted operator signatures (one cache for the agent's life): each runs once. */
  nonces: OperatorNonceCache;
}

function refused(
  id: string,
  method: string,
  v: Extract<PolicyVerdict, { ok: false }>,
  deps: PolicyGateDeps,
): ReplyFrame {
  deps.logger.warn({ id, method, rule: v.rule, policy: deps.policy.source }, 'request refused by host policy');
  return failedReply(id, ErrorCode.POLICY_REFUSED, v.message);
}

function operatorSignature(
  id: string,
  method: string,
  frame: unknown,
  signed: SignedCommand,
  deps: PolicyGateDeps,
): ReplyFrame | undefined {
  if (!deps.policy.requireOperatorSignature) return undefined;
  const opsig = (frame as { opsig?: unknown }).opsig;
  const nowSec = Math.floor(deps.clock.now() / 1000);
  const check = verifyOperatorSignature(opsig, signed, deps.agentsn(), nowSec, deps.policy.operatorKeys);
  if (!check.ok) return refusedSignature(id, method, check.reason, deps);
  if (!deps.nonces.accept(check.nonce, check.exp, nowSec)) {
    return refusedSignature(
      id,
      method,
      `opsig nonce ${check.nonce} was already used on this host (a signature runs once; sign again)`,
      deps,
    );
  }
  return undefined;
}

function refusedSignature(id: string, method: string, reason: string, deps: PolicyGateDeps): ReplyFrame {
  deps.logger.warn({ id, method, reason, policy: deps.policy.source }, 'request refused: operator signature required');
  return failedReply(
    id,
    ErrorCode.POLICY_OPERATOR_SIGNATURE,
    `refused by host policy ${deps.policy.source}: requireOperatorSignature is set and ${reason}`,
  );
}

/** sync.bash: run-as user and group, command, then the operator signature when the policy asks for one. */
export function checkSyncBashPolicy(
  frame: unknown,
  req: { id: string; cmd: string; user?: string; group?: string; timeout?: number },
  deps: PolicyGateDeps,
): ReplyFrame | undefined {
  const v = deps.primaryGroupOf
    ? policyAllowsCommand(deps.policy, req.cmd, req.user, req.group, deps.primaryGroupOf)
    : policyAllowsCommand(deps.policy, req.cmd, req.user, req.group);
  if (!v.ok) return refused(req.id, 'sync.bash', v, deps);
  const signed: SignedCommand = {
    method: 'sync.bash',
    cmd: req.cmd,
    ...(req.user !== undefined ? { user: req.user } : {}),
    ...(req.group !== undefined ? { group: req.group } : {}),
    ...(req.timeout !== undefined ? { timeout: req.timeout } : {}),
  };
  return operatorSignature(req.id, 'sync.bash', frame, signed, deps);
}

/** getinfo.NAME: the collector must be listed. */
export function checkCollectorPolicy(id: string, method: string, deps: PolicyGateDeps): ReplyFrame | undefined {
  const v = policyAllowsCollector(deps.policy, method);
  return v.ok ? undefined : refused(id, method, v, deps);
}

/**
 * task.add: the command and user of the line are checked by PeriodicTasks (it parses the line);
 * here only the operator signature, over the task name and the whole line.
 */
export function checkTaskAddSignature(
  frame: unknown,
  req: { id: string; name: string; line: string },
  deps: PolicyGateDeps,
): ReplyFrame | undefined {
  return operatorSignature(req.id, 'task.add', frame, { method: 'task.add', name: req.name, line: req.line }, deps);
}
