/**
 * OpenAPI response schemas of the main operator routes, so the served document describes the
 * fields an answer carries (not only the envelope). They double as fastify's serializer: every
 * object is additionalProperties: true so nothing a route adds is dropped, numbers are `number`
 * (never coerced to integers), and a column that can be NULL is `nullable`. Keep them in step
 * with the row types of store/store.ts (a unit test compares served answers with store rows).
 */
import { Type, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';

const open = { additionalProperties: true } as const;
const Num = (description?: string) => Type.Number(description ? { description } : {});
const NullableNum = (description?: string) => Type.Number({ nullable: true, ...(description ? { description } : {}) });
const NullableStr = (description?: string) => Type.String({ nullable: true, ...(description ? { description } : {}) });
/** Issue 13 item 8: task, subtask and package times are ISO 8601 UTC strings. */
const Iso = (what: string) => Type.String({ format: 'date-time', description: `${what} (ISO 8601 UTC)` });
const NullableIso = (what: string) =>
  Type.String({ format: 'date-time', nullable: true, description: `${what} (ISO 8601 UTC)` });

/** The seed 000 envelope plus a route's fields. */
export function envelopeWith(fields: TProperties, description: string): TObject {
  return Type.Object(
    {
      status: Type.Integer({ description: '0 = success; otherwise a status of docs/errors.md' }),
      message: Type.String(),
      cause: Type.Optional(Type.String()),
      ...fields,
    },
    { ...open, description },
  );
}

const paged = (key: string, item: TSchema, description: string): TObject =>
  envelopeWith(
    {
      count: Num('rows matching the filters, over all pages'),
      offset: Num(),
      limit: Num(),
      [key]: Type.Array(item),
    },
    description,
  );

export const AgentReportSchema = Type.Object(
  {
    name: Type.Optional(Type.String()),
    version: Type.Optional(Type.String()),
    status: Type.Optional(Type.String({ description: 'stoped | running | fatal | killed' })),
    uptime: Type.Optional(Num('seconds')),
    prevers: Type.Optional(Type.String()),
    pid: Type.Optional(Num()),
    strikes: Type.Optional(Num()),
  },
  { ...open, description: 'a sub-agent as the host last reported it' },
);

export const HostSchema = Type.Object(
  {
    id: Num(),
    agentsn: Type.String(),
    hostname: Type.String(),
    ipaddr: NullableStr('address the last request came from'),
    region: Num(),
    region_name: NullableStr(),
    status: Type.String({ description: 'registered | online | offline | deleted' }),
    step: Num('seconds between status pushes'),
    os: NullableStr(),
    arch: NullableStr(),
    curvers: NullableStr('BootAgent version now'),
    prevers: NullableStr('BootAgent version before the last change'),
    uptime: NullableNum('host uptime, seconds'),
    agents: Type.Array(AgentReportSchema),
    reported_tags: Type.String({ description: 'k=v,... as the host reported them' }),
    tags: Type.Array(Type.String(), { description: 'k=v tags bound on the server' }),
    last_seen: NullableIso('last status push'),
    events_dropped: Num("events the host's BootAgent dropped from its full queue, in total"),
    events_dropped_at: NullableIso('last push that reported dropped events'),
    gmt_create: Iso('registered'),
    gmt_modify: Iso('last status change'),
  },
  { ...open, description: 'a host (BootAgent)' },
);

export const TaskSchema = Type.Object(
  {
    id: Num(),
    command: Type.String(),
    parameters: Type.Object({}, { ...open, description: 'job fields sent to each host' }),
    user: NullableStr('name of the token that created it'),
    status: Type.String({ description: 'RUNNING | COMPLETE | REVOKED | HALTED' }),
    selector: Type.String({ description: 'agents | tags' }),
    tags: NullableStr('k=v,... of a tag task'),
    window_start: NullableIso('tag task window'),
    window_end: NullableIso('tag task window'),
    delay_ms: Num(),
    batch: Num('0 = no limit'),
    batch_pct: NullableNum('batch as a percentage of the targets (then batch is unused)'),
    retry_count: Num(),
    retry_interval_ms: Num(),
    ttl_ms: Num('0 = never expires; counts from entering READY'),
    ttr_ms: Num(),
    priority: Num('lower first (default 1024)'),
    start_at: NullableIso('no subtask READY before'),
    max_errors: NullableNum('failed subtasks allowed before the task halts (null: no limit)'),
    max_errors_pct: NullableNum('max_errors as a percentage of the targets'),
    halt_reason: NullableStr('set when max_errors halted the task'),
    after: Type.Array(Num(), { description: 'ids of the tasks it runs after (per host)' }),
    buried_ttl_ms: Num('a BURIED subtask not kicked within it is FAILED'),
    count: Num('subtasks'),
    complete: Num('subtasks in a final state'),
    gmt_create: Iso('created'),
    gmt_modify: Iso('last change'),
  },
  { ...open, description: 'a task (seed 001, issue 13)' },
);

export const SubtaskSchema = Type.Object(
  {
    id: Type.String(),
    taskid: Num(),
    agentsn: Type.String(),
    state: Type.String({ description: 'PENDING DELAYED READY RESERVED BURIED SUCCESS FAILED REVOKED' }),
    jobid: NullableStr('job id of the current attempt on the wire'),
    attempts: Num(),
    requeues: Num('times its ttr ran out while RESERVED'),
    ready_at: Iso('not before'),
    expires_at: NullableIso('not started by then: FAILED (set on admission: ttl from entering READY)'),
    reserved_at: NullableIso('last reserved (or touched)'),
    buried_at: NullableIso('BURIED since'),
    revoke_requested_at: NullableIso('revoked while RESERVED: the host is told to cancel'),
    errcode: NullableNum('agent or server code (docs/errors.md)'),
    message: NullableStr(),
    gmt_create: Iso('created'),
    gmt_modify: Iso('last change'),
  },
  { ...open, description: 'one host of a task' },
);

export const PackageSchema = Type.Object(
  {
    id: Num(),
    name: Type.String(),
    version: Type.String(),
    os: Type.String(),
    arch: Type.String(),
    file: Type.String(),
    path: Type.String({ description: 'under the data dir' }),
    size: Num('bytes'),
    sha256: Type.String({ description: 'hex' }),
    gmt_create: Iso('uploaded'),
    gmt_modify: Iso('last change'),
  },
  { ...open, description: 'an uploaded package' },
);

export const HostAnswer = envelopeWith({ host: HostSchema }, 'one host');
export const HostPage = paged('hosts', HostSchema, 'a page of hosts');
export const PackagePage = paged('packages', PackageSchema, 'a page of packages');
export const TaskCreated = envelopeWith(
  {
    id: Num('task id'),
    results: Type.Array(
      Type.Object(
        {
          AgentSN: Type.String(),
          errcode: Type.Optional(Num('set when the host got no subtask (e.g. TASK_HOST_UNKNOWN)')),
        },
        open,
      ),
    ),
  },
  'the task created, one result per host named',
);
/** GET /task answers one task (with id) or a page of tasks (without): both shapes, every field optional. */
export const TaskAnswer = envelopeWith(
  {
    task: Type.Optional(TaskSchema),
    states: Type.Optional(Type.Object({}, { additionalProperties: Num(), description: 'subtasks per state' })),
    subtasks: Type.Optional(Type.Array(SubtaskSchema)),
    count: Type.Optional(Num('without id: tasks matching')),
    offset: Type.Optional(Num()),
    limit: Type.Optional(Num()),
    tasks: Type.Optional(Type.Array(TaskSchema)),
  },
  'with id: {task, states, subtasks}; without: a page of tasks',
);

export const AuditSchema = Type.Object(
  {
    id: Num(),
    at: Iso('when'),
    phase: Type.String({
      enum: ['dispatch', 'result'],
      description: 'dispatch: written before a command went to hosts; result: the answer or refusal',
    }),
    request: Type.String({ description: 'the same for the dispatch and result rows of one request' }),
    token: NullableStr('token name (null: no or unknown token)'),
    source: Type.String({ description: 'source address' }),
    method: Type.String(),
    route: Type.String(),
    targets: NullableNum('hosts asked for'),
    selector: NullableStr('hosts=a,b or tags=k=v'),
    command: NullableStr('command, task action or method'),
    run_as: NullableStr('run-as user'),
    code: NullableNum('HTTP status of the answer (result rows)'),
    outcome: NullableStr('ok, counts, failed: CODE, or refused: why'),
  },
  { ...open, description: 'one audit row: never a secret, never command output' },
);
export const AuditPage = paged('audit', AuditSchema, 'a page of audit rows');

const ScopeSchema = Type.Object(
  {},
  {
    ...open,
    description:
      'the scope as stored: tags, regions, agentsn, commands, users, ... (absent = no limit); null when unreadable',
  },
);
export const TokenSchema = Type.Object(
  {
    id: Num(),
    name: Type.String(),
    role: Type.String({ description: 'viewer | operator | admin' }),
    scope: Type.Object(
      {},
      { ...open, nullable: true, description: 'the stored scope; null when this server cannot read it' },
    ),
    gmt_create: Iso('created'),
    last_used: NullableIso('last request with this token (null: never used)'),
  },
  { ...open, description: 'one operator token: never its secret or its hash' },
);
export const TokenList = envelopeWith({ count: Num(), tokens: Type.Array(TokenSchema) }, 'every operator token');
export const TokenCreated = envelopeWith(
  {
    name: Type.String(),
    role: Type.String(),
    scope: ScopeSchema,
    token: Type.String({ description: 'the secret: shown this once, stored only as its SHA-256' }),
  },
  'the new token',
);
export const TokenDeleted = envelopeWith(
  { name: Type.String(), revoked: Num('tokens deleted') },
  'the token name and how many tokens were revoked',
);
