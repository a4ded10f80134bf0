/**
 * The request and answer schemas of the task routes (routes/tasks.ts): they validate at the edge
 * and are what the OpenAPI document says of every task field (issue 13: priority, start_at,
 * max_errors, after, batch percentages, allow_unknown) and of revoke, kick, touch and retry.
 */
import { Type, type Static } from '@sinclair/typebox';
import { JOB_ACTIONS, SubtaskState } from '@aspire/protocol';
import { pagingQuery } from '../http/paging.ts';
import { envelopeWith } from '../http/response-schemas.ts';

const Time = Type.Union([
  Type.Number({ minimum: 0, description: 'unix seconds' }),
  Type.String({ format: 'date-time' }),
]);
const Percent = Type.String({ pattern: '^\\d{1,3}(\\.\\d{1,2})?%$' });
/** Largest POST /task body: 100,000 AgentSNs of 64 characters fit (issue 13 B.3). */
export const TASK_BODY_LIMIT = 16 * 1024 * 1024;

export const TaskBody = Type.Object(
  {
    command: Type.Union(JOB_ACTIONS.map((a) => Type.Literal(a))),
    agents: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 100_000 })),
    tags: Type.Optional(
      Type.String({
        minLength: 3,
        maxLength: 1024,
        pattern: '^[^=,]+=[^=,]*(,[^=,]+=[^=,]*)*$',
        description: 'k=v,k2=v2: hosts reporting all of them',
      }),
    ),
    window: Type.Optional(
      Type.Object({ start: Type.Optional(Time), end: Type.Optional(Time) }, { additionalProperties: false }),
    ),
    parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    delay: Type.Optional(
      Type.Number({ minimum: 0, maximum: 30 * 86_400, description: 'seconds before the first attempt' }),
    ),
    batch: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0, maximum: 100_000 }), Percent], {
        description: 'at most this many hosts in flight, or "10%" of the targets; 0 = all',
      }),
    ),
    max_errors: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0, maximum: 100_000 }), Percent], {
        description:
          'failed subtasks allowed (count or "10%" of the targets; default 0): one more halts the task, the rest REVOKED (TASK_HALTED)',
      }),
    ),
    priority: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 4_294_967_295,
        description: 'lower first (default 1024): orders dispatch within and across tasks',
      }),
    ),
    start_at: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'absolute UTC time (ISO 8601) before which no subtask is READY',
      }),
    ),
    after: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1 }), {
        maxItems: 64,
        description:
          "ids of tasks this one runs after: per host, READY only when the same host's subtask of each succeeded",
      }),
    ),
    allow_unknown: Type.Optional(
      Type.Boolean({
        description:
          'record unknown AgentSNs as FAILED subtasks (TASK_HOST_UNKNOWN) instead of refusing the task with 400',
      }),
    ),
    retry: Type.Optional(
      Type.Object(
        {
          count: Type.Integer({ minimum: 0, maximum: 100 }),
          interval: Type.Optional(Type.Number({ minimum: 0, maximum: 86_400 })),
        },
        { additionalProperties: false },
      ),
    ),
    ttl: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 365 * 86_400,
        description: 'seconds; not started by then is FAILED TASK_EXPIRED',
      }),
    ),
    ttr: Type.Optional(
      Type.Number({
        minimum: 0.1,
        maximum: 30 * 86_400,
        description: 'seconds a RESERVED subtask may go unreported before READY again',
      }),
    ),
    user: Type.Optional(
      Type.String({
        maxLength: 64,
        description:
          'ignored: the author recorded is always the token name (a sub-agent run-as user goes in parameters.user)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type TaskBody = Static<typeof TaskBody>;

export const IdBody = Type.Object(
  {
    id: Type.Integer({ minimum: 1 }),
    subtask: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'one subtask of the task (its id)' }),
    ),
  },
  { additionalProperties: false },
);
export const SubtaskBody = Type.Object(
  { id: Type.Integer({ minimum: 1 }), subtask: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);

const count = (description: string) => Type.Integer({ minimum: 0, description });
export const Revoked = envelopeWith(
  {
    revoked: count('subtasks moved to REVOKED at once'),
    cancelling: Type.Optional(count('RESERVED subtasks marked: their hosts are told to cancel')),
  },
  'what the revoke did',
);
export const Kicked = envelopeWith(
  { kicked: count('BURIED and DELAYED subtasks moved to READY') },
  'what the kick did',
);
export const Touched = envelopeWith({ touched: count('1: its ttr counts from now') }, 'the subtask touched');
export const Retried = envelopeWith(
  {
    retried: count('subtasks retried'),
    state: Type.Optional(
      Type.String({
        description: 'one subtask retried: where it is now, PENDING (waiting for a batch slot or dependency) or READY',
      }),
    ),
  },
  'the subtasks retried',
);

export const TaskQuery = pagingQuery('tasks', {
  id: Type.Optional(Type.Integer({ minimum: 1 })),
  status: Type.Optional(Type.String({ enum: ['RUNNING', 'COMPLETE', 'REVOKED', 'HALTED'] })),
  command: Type.Optional(Type.String({ maxLength: 32 })),
  state: Type.Optional(
    Type.String({ enum: Object.values(SubtaskState), description: 'with id: only the subtasks in this state' }),
  ),
});
