import type { Clock } from '@aspire/agent-core';
import {
  failedReply,
  ErrorCode,
  checkSyncBashTimeout,
  errorMessage,
  type ReplyFrame,
  type SyncBashRequest,
} from '@aspire/protocol';
import type { KillEscalationOptions } from './kill-escalation.ts';
import type { Limiter } from './limiter.ts';
import { runCommand, type CommandOutcome } from './run-command.ts';
import { cancelledByServer } from './running-commands.ts';

export interface SyncBashDeps {
  clock: Clock;
  limiter: Limiter;
  kill?: KillEscalationOptions;
  capBytes?: number;
  /** Aborts on the agent's stop, or on a `cancel` frame (reason CancelledByServer: the reply says EXEC_CANCELLED). */
  signal?: AbortSignal;
}

/**
 * One sync.bash request to its reply frame (design.md §4). A timeout out of range (protocol's
 * checkSyncBashTimeout: 1 s to a day) is refused with INVALID_PARAMS before anything runs.
 */
export async function syncBash(req: SyncBashRequest, deps: SyncBashDeps): Promise<ReplyFrame> {
  const checked = checkSyncBashTimeout(req.timeout);
  if (!checked.ok)
    return failedReply(req.id, ErrorCode.INVALID_PARAMS, `${errorMessage(ErrorCode.INVALID_PARAMS)}: ${checked.error}`);
  const timeoutSec = checked.seconds;
  // The timeout covers the wait for a slot too: the caller (and the hub's deadline) counts
  // from when the request arrived, not from when the command started.
  const arrived = deps.clock.monotonic();
  const ran = await deps.limiter.run(async () => {
    // Cancelled while it waited for a slot: nothing is started.
    if (cancelledByServer(deps.signal))
      return {
        kind: 'refused',
        code: ErrorCode.EXEC_CANCELLED,
        message: `${errorMessage(ErrorCode.EXEC_CANCELLED)} before it started`,
      } as const;
    const left = timeoutSec * 1000 - (deps.clock.monotonic() - arrived);
    if (left <= 0)
      return {
        kind: 'refused',
        code: ErrorCode.EXEC_TIMEOUT,
        message: `${errorMessage(ErrorCode.EXEC_TIMEOUT)}: waited ${timeoutSec} s for a free slot`,
      } as const;
    return runCommand(
      {
        cmd: req.cmd,
        timeoutMs: left,
        ...(req.user !== undefined ? { user: req.user } : {}),
        ...(req.group !== undefined ? { group: req.group } : {}),
        ...(deps.kill ? { kill: deps.kill } : {}),
        ...(deps.capBytes ? { capBytes: deps.capBytes } : {}),
        ...(deps.signal ? { signal: deps.signal } : {}),
      },
      deps.clock,
    );
  });
  if (!ran.ok) return failedReply(req.id, ErrorCode.EXEC_BUSY);
  return outcomeToReply(req.id, ran.value, timeoutSec, cancelledByServer(deps.signal));
}

export function outcomeToReply(id: string, o: CommandOutcome, timeoutSec?: number, cancelled = false): ReplyFrame {
  if (o.kind === 'refused') return failedReply(id, o.code, o.message);
  const extra = o.truncated ? { truncated: true, dropped: o.droppedBytes } : {};
  const note = o.truncated ? ` (output truncated: ${o.droppedBytes} bytes dropped)` : '';
  if (o.kind === 'exited') {
    // The design's success message verbatim; truncation is said by `truncated` and `dropped`.
    return { id, resp: 'success', retcode: o.exitCode, message: 'Normal termination', data: o.output, ...extra };
  }
  if (o.kind === 'timeout') {
    return {
      id,
      resp: 'failed',
      retcode: ErrorCode.EXEC_TIMEOUT,
      message: `${errorMessage(ErrorCode.EXEC_TIMEOUT)} after ${timeoutSec ?? '?'} s; process group killed${note}`,
      data: o.output,
      ...extra,
    };
  }
  if (o.kind === 'aborted' && cancelled) {
    return {
      id,
      resp: 'failed',
      retcode: ErrorCode.EXEC_CANCELLED,
      message: `${errorMessage(ErrorCode.EXEC_CANCELLED)}${note}`,
      data: o.output,
      ...extra,
    };
  }
  return {
    id,
    resp: 'failed',
    retcode: o.kind === 'aborted' ? ErrorCode.EXEC_ERROR : ErrorCode.EXEC_KILLED,
    message:
      o.kind === 'aborted'
        ? 'Agent shutting down; command killed'
        : `${errorMessage(ErrorCode.EXEC_KILLED)} ${o.signal ?? ''}${note}`.trim(),
    data: o.output,
    ...extra,
  };
}
