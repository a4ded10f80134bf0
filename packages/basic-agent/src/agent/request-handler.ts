import type { Clock, Logger } from '@aspire/agent-core';
import {
  ErrorCode,
  cancelRequest,
  errorMessage,
  requestFrame,
  syncBashRequest,
  taskAddRequest,
  taskListRequest,
  taskRemoveRequest,
  type ReplyFrame,
  failedReply,
} from '@aspire/protocol';
import { collect, type CollectResult } from '../collectors/registry.ts';
import type { PeriodicTasks } from '../cron/periodic-tasks.ts';
import type { KillEscalationOptions } from '../exec/kill-escalation.ts';
import type { Limiter } from '../exec/limiter.ts';
import type { RunningCommands } from '../exec/running-commands.ts';
import { syncBash } from '../exec/sync-bash.ts';
import {
  checkCollectorPolicy,
  checkSyncBashPolicy,
  checkTaskAddSignature,
  type PolicyGateDeps,
} from './policy-gate.ts';

export interface RequestHandlerDeps {
  clock: Clock;
  logger: Logger;
  limiter: Limiter;
  tasks: PeriodicTasks;
  kill?: KillEscalationOptions;
  signal?: AbortSignal;
  /**
   * The server's signature check (frame-verifier.ts), before anything else looks at the frame:
   * a reply means refused. createBasicAgent always wires it; unit tests of the handler may not.
   */
  verify?: (frame: Record<string, unknown> & { id: string }) => ReplyFrame | undefined;
  /** The host policy step (policy-gate.ts); absent: no policy file, everything allowed. */
  policy?: PolicyGateDeps;
  /** sync.bash requests running, by frame id, for `cancel` frames; absent: cancel finds nothing. */
  running?: RunningCommands;
}

function invalid(id: string, errors: string[]): ReplyFrame {
  return failedReply(id, ErrorCode.INVALID_PARAMS, `Invalid params: ${errors.slice(0, 3).join('; ')}`);
}

/**
 * One request frame to its reply. Every frame gets exactly one reply; a frame that is not a
 * valid request gets `failed`/3021 (Invalid params, design.md §4), never an exception.
 */
export async function handleRequest(frame: unknown, deps: RequestHandlerDeps): Promise<ReplyFrame> {
  const base = requestFrame.validate(frame);
  if (!base.ok) {
    const id = typeof (frame as { id?: unknown })?.id === 'string' ? (frame as { id: string }).id.slice(0, 128) : '';
    return invalid(id, base.errors);
  }
  const { id, method } = base.value;
  const refusedBySignature = deps.verify?.(frame as Record<string, unknown> & { id: string });
  if (refusedBySignature) return refusedBySignature;
  try {
    if (method === 'sync.bash') {
      const v = syncBashRequest.validate(frame);
      if (!v.ok) return invalid(id, v.errors);
      const refusedByPolicy = deps.policy && checkSyncBashPolicy(frame, v.value, deps.policy);
      if (refusedByPolicy) return refusedByPolicy;
      const tracked = deps.running?.track(id, deps.signal);
      try {
        const signal = tracked?.signal ?? deps.signal;
        return await syncBash(v.value, {
          clock: deps.clock,
          limiter: deps.limiter,
          ...(deps.kill ? { kill: deps.kill } : {}),
          ...(signal ? { signal } : {}),
        });
      } finally {
        tracked?.release();
      }
    }
    if (method === 'cancel') {
      // Signed like every frame (checked above); stops only what the server itself started here
      // (a request id of this channel) or a periodic run, never anything else on the host.
      const v = cancelRequest.validate(frame);
      if (!v.ok) return invalid(id, v.errors);
      const what = v.value.target !== undefined ? `request ${v.value.target}` : `periodic task ${v.value.name!}`;
      const hit =
        v.value.target !== undefined
          ? (deps.running?.cancel(v.value.target) ?? false)
          : deps.tasks.cancelRun(v.value.name!);
      if (!hit)
        return failedReply(
          id,
          ErrorCode.CHANNEL_NOTHING_TO_CANCEL,
          `${errorMessage(ErrorCode.CHANNEL_NOTHING_TO_CANCEL)}: ${what} is not running here`,
        );
      deps.logger.warn(
        { id, ...(v.value.target !== undefined ? { target: v.value.target } : { task: v.value.name }) },
        `cancel: ${what} cancelled by the server; its process group is being killed`,
      );
      return {
        id,
        resp: 'success',
        retcode: 0,
        message: `${what} cancelled; its process group is being killed (the request answers ${ErrorCode.EXEC_CANCELLED} once it is gone)`,
        data: { cancelled: 1 },
      };
    }
    if (method.startsWith('getinfo.')) {
      const args = (frame as { args?: unknown }).args;
      if (args !== undefined && typeof args !== 'string') return invalid(id, ['/args: must be a string']);
      const refusedByPolicy = deps.policy && checkCollectorPolicy(id, method, deps.policy);
      if (refusedByPolicy) return refusedByPolicy;
      return collectReply(id, await collect(method, args as string | undefined));
    }
    if (method === 'task.add') {
      const v = taskAddRequest.validate(frame);
      if (!v.ok) return invalid(id, v.errors);
      const refusedByPolicy = deps.policy && checkTaskAddSignature(frame, v.value, deps.policy);
      if (refusedByPolicy) return refusedByPolicy;
      return await deps.tasks.add(v.value);
    }
    if (method === 'task.remove') {
      const v = taskRemoveRequest.validate(frame);
      return v.ok ? await deps.tasks.remove(v.value) : invalid(id, v.errors);
    }
    if (method === 'task.list') {
      const v = taskListRequest.validate(frame);
      return v.ok ? deps.tasks.list(id) : invalid(id, v.errors);
    }
    return failedReply(id, ErrorCode.CHANNEL_UNKNOWN_METHOD, `Unknown method: ${method}`);
  } catch (err) {
    deps.logger.error({ err, id, method }, 'request failed unexpectedly');
    return failedReply(id, ErrorCode.EXEC_ERROR, `internal error: ${(err as Error).message}`);
  }
}

/** A collector's result as the channel's reply frame (the Ctl prints the same data itself). */
function collectReply(id: string, r: CollectResult): ReplyFrame {
  return r.ok
    ? { id, resp: 'success', retcode: 0, message: 'Normal termination', data: r.data }
    : failedReply(id, r.code, r.message);
}
