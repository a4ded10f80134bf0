/**
 * BasicAgent command channel frames (design.md §4): newline-delimited JSON over TLS.
 */
import { Type, type Static } from '@sinclair/typebox';
import { validator } from './validate.ts';
import { errorMessage } from './error-codes.ts';

export const InitFrame = Type.Object(
  {
    method: Type.Literal('init'),
    hostname: Type.String({ minLength: 1, maxLength: 255 }),
    agentsn: Type.Optional(Type.String({ maxLength: 64 })),
    version: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: true },
);
export type InitFrame = Static<typeof InitFrame>;

export const AcceptFrame = Type.Object({ method: Type.Literal('accept') }, { additionalProperties: true });
export const RedirectFrame = Type.Object(
  { method: Type.Literal('redirect'), server: Type.String({ minLength: 1, maxLength: 4096 }) },
  { additionalProperties: true },
);
export type RedirectFrame = Static<typeof RedirectFrame>;
export const HandshakeReply = Type.Union([AcceptFrame, RedirectFrame]);
export type HandshakeReply = Static<typeof HandshakeReply>;

export const PingFrame = Type.Object({ method: Type.Literal('ping'), ts: Type.Optional(Type.Number()) });
export const PongFrame = Type.Object({ method: Type.Literal('pong'), ts: Type.Optional(Type.Number()) });

export const SYNC_BASH_DEFAULT_TIMEOUT_S = 120;
export const SYNC_BASH_MIN_TIMEOUT_S = 1;
export const SYNC_BASH_MAX_TIMEOUT_S = 24 * 3600;
export const OUTPUT_CAP_BYTES = 64 * 1024;

/**
 * The one rule for a sync.bash `timeout` (seconds), used by the hub (Polaris) and the agent:
 * absent means the default; anything that is not a finite number from the minimum to the
 * maximum is refused (INVALID_PARAMS on the channel), never silently clamped.
 */
export function checkSyncBashTimeout(requested: unknown): { ok: true; seconds: number } | { ok: false; error: string } {
  if (requested === undefined) return { ok: true, seconds: SYNC_BASH_DEFAULT_TIMEOUT_S };
  if (
    typeof requested !== 'number' ||
    !Number.isFinite(requested) ||
    requested < SYNC_BASH_MIN_TIMEOUT_S ||
    requested > SYNC_BASH_MAX_TIMEOUT_S
  ) {
    return {
      ok: false,
      error: `/timeout: must be a number of seconds from ${SYNC_BASH_MIN_TIMEOUT_S} to ${SYNC_BASH_MAX_TIMEOUT_S}, got ${typeof requested === 'number' ? String(requested) : JSON.stringify(requested)}`,
    };
  }
  return { ok: true, seconds: requested };
}

export const SyncBashRequest = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128 }),
    method: Type.Literal('sync.bash'),
    cmd: Type.String({ minLength: 1, maxLength: 65536 }),
    timeout: Type.Optional(Type.Number()),
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    group: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: true },
);
export type SyncBashRequest = Static<typeof SyncBashRequest>;

export const GetinfoRequest = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128 }),
    method: Type.String({ pattern: '^getinfo\\.[a-z0-9_]+$' }),
    args: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: true },
);
export type GetinfoRequest = Static<typeof GetinfoRequest>;

/** Periodic-task management from the server (design.md §4). */
export const TaskAddRequest = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128 }),
    method: Type.Literal('task.add'),
    name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' }),
    line: Type.String({ minLength: 1, maxLength: 8192 }),
  },
  { additionalProperties: true },
);
export type TaskAddRequest = Static<typeof TaskAddRequest>;
export const TaskRemoveRequest = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128 }),
    method: Type.Literal('task.remove'),
    name: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: true },
);
export type TaskRemoveRequest = Static<typeof TaskRemoveRequest>;
export const TaskListRequest = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 128 }), method: Type.Literal('task.list') },
  { additionalProperties: true },
);

/**
 * Stop what runs (signed like every frame): `target` names the id of a running request frame
 * (a sync.bash) on this channel, `name` a periodic task whose run is going. Exactly one of them.
 * The agent kills the process group as on a timeout; the cancelled request answers
 * EXEC_CANCELLED, the periodic run's task.result carries errcode EXEC_CANCELLED. The cancel
 * itself answers success with `data: {cancelled: n}`, or CHANNEL_NOTHING_TO_CANCEL.
 */
export const CancelRequest = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128 }),
    method: Type.Literal('cancel'),
    target: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: true },
);
export type CancelRequest = Static<typeof CancelRequest>;
const cancelShape = validator(CancelRequest);
/** The cancel frame's check: the schema, then exactly one of `target` and `name`. */
export const cancelRequest = {
  schema: CancelRequest,
  validate(value: unknown): ReturnType<typeof cancelShape.validate> {
    const v = cancelShape.validate(value);
    if (v.ok && (v.value.target === undefined) === (v.value.name === undefined))
      return { ok: false, errors: ['/: give exactly one of target and name'] };
    return v;
  },
};

/** Polaris cancel (POST /polaris/cancel): stop a running Polaris request (`id`) or periodic run (`name`) on each host. */
export const PolarisCancelRequest = Type.Object(
  {
    hosts: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { minItems: 1, maxItems: 10000 }),
    id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: 'the id of the running POST /polaris request' }),
    ),
    name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'a periodic task whose run is to stop' }),
    ),
  },
  { additionalProperties: false },
);
export type PolarisCancelRequest = Static<typeof PolarisCancelRequest>;
export const polarisCancelRequest = validator(PolarisCancelRequest);

/** Any request frame: at least an id and a method. Per-method checks follow. */
export const RequestFrame = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 128 }), method: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: true },
);
export type RequestFrame = Static<typeof RequestFrame>;

export const ReplyFrame = Type.Object(
  {
    id: Type.String({ maxLength: 128 }),
    resp: Type.Union([Type.Literal('success'), Type.Literal('failed')]),
    retcode: Type.Integer(),
    message: Type.String(),
    data: Type.Optional(Type.Unknown()),
    truncated: Type.Optional(Type.Boolean()),
    /** Output bytes dropped past the 64 KiB cap (present when truncated). */
    dropped: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: true },
);
export type ReplyFrame = Static<typeof ReplyFrame>;

/**
 * The one failed reply frame, written by the agent and the hub alike: `{id, resp, retcode,
 * message}` in this key order (the bytes on the wire), the message the code's table text unless
 * the caller words it.
 */
export function failedReply(id: string, code: number, message = errorMessage(code)): ReplyFrame {
  return { id, resp: 'failed', retcode: code, message };
}

/** A periodic task's run result, pushed by the agent unprompted. */
export const TaskResultFrame = Type.Object(
  {
    method: Type.Literal('task.result'),
    name: Type.String(),
    started: Type.Integer(),
    duration_ms: Type.Integer({ minimum: 0 }),
    retcode: Type.Integer(),
    output: Type.String(),
    truncated: Type.Boolean(),
    skipped: Type.Optional(Type.Boolean()),
    /** Scheduled fire time in epoch milliseconds (`started` is unix seconds). */
    started_ms: Type.Optional(Type.Integer()),
    /** Output bytes dropped past the cap. */
    dropped: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Execution error code when the run did not exit by itself (timeout, unknown user). */
    errcode: Type.Optional(Type.Integer()),
    message: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
export type TaskResultFrame = Static<typeof TaskResultFrame>;

export const initFrame = validator(InitFrame);
export const handshakeReply = validator(HandshakeReply);
export const syncBashRequest = validator(SyncBashRequest);
export const getinfoRequest = validator(GetinfoRequest);
export const taskAddRequest = validator(TaskAddRequest);
export const taskRemoveRequest = validator(TaskRemoveRequest);
export const requestFrame = validator(RequestFrame);
export const replyFrame = validator(ReplyFrame);
export const taskResultFrame = validator(TaskResultFrame);

/** Largest frame either side accepts; a longer line is a protocol error. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** Polaris fan-out request (design.md §5). */
export const PolarisRequest = Type.Object(
  {
    id: Type.Optional(Type.String({ maxLength: 128 })),
    hosts: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { minItems: 1, maxItems: 10000 }),
    method: Type.String({ minLength: 1, maxLength: 64 }),
    cmd: Type.Optional(Type.String({ maxLength: 65536 })),
    args: Type.Optional(Type.String({ maxLength: 4096 })),
    timeout: Type.Optional(Type.Number()),
    user: Type.Optional(Type.String({ maxLength: 64 })),
    group: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: true },
);
export type PolarisRequest = Static<typeof PolarisRequest>;
export const polarisRequest = validator(PolarisRequest);

export type PolarisHostReply = {
  host: string;
  resp: 'success' | 'failed';
  retcode: number;
  message: string;
  data?: unknown;
  truncated?: boolean;
};

export type TaskListRequest = Static<typeof TaskListRequest>;
export const taskListRequest = validator(TaskListRequest);
export type PingFrame = Static<typeof PingFrame>;
export const pingFrame = validator(PingFrame);
export const pongFrame = validator(PongFrame);

/** Polaris methods the hub relays as they are; anything else is refused before any agent sees it. */
export const POLARIS_METHOD_PATTERN = /^(sync\.bash|getinfo\.[a-z0-9_]+|task\.(add|remove|list))$/;

/** Extra wait the hub allows beyond a command's own timeout before answering CHANNEL_TIMEOUT. */
export const HUB_REPLY_GRACE_S = 15;
