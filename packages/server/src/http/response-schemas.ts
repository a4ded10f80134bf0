/**
 * OpenAPI response schemas of the main operator routes, so the served document describes the
 * fields an answer carries (not only the envelope). They double as fastify's serializer: every
 * object is additionalProperties: true so nothing a route adds is dropped, numbers are `number`
 * (never coerced to integers), and a column that can be NULL is `nullable`. The row schemas are
 * the store's own (store/*-store.ts, store/row-schema.ts): a row is defined once, its type and
 * this answer schema both derive from it (a unit test compares served answers with store rows).
 */
import { Type, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';
import { PackageRowSchema } from '../store/package-store.ts';
import { HostRowSchema } from '../store/host-store.ts';
import { AuditRowSchema, TokenRowSchema } from '../store/operator-store.ts';
import { apiSchema } from '../store/row-schema.ts';
import { SubtaskRowSchema, TaskRowSchema } from '../store/task-store.ts';

const open = { additionalProperties: true } as const;
const Num = (description?: string) => Type.Number(description ? { description } : {});
/** The design.md §5 envelope plus a route's fields. */
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

/** The rows' answer schemas, derived from the store's row schemas (times as ISO 8601 UTC). */
export const HostSchema = apiSchema(HostRowSchema);
export const TaskSchema = apiSchema(TaskRowSchema);
export const SubtaskSchema = apiSchema(SubtaskRowSchema);
export const PackageSchema = apiSchema(PackageRowSchema);
export const AuditSchema = apiSchema(AuditRowSchema);

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

export const AuditPage = paged('audit', AuditSchema, 'a page of audit rows');

const ScopeSchema = Type.Object(
  {},
  {
    ...open,
    description:
      'the scope as stored: tags, regions, agentsn, commands, users, ... (absent = no limit); null when unreadable',
  },
);
/** A token as the API shows it: the row with its stored scope parsed (routes/tokens.ts tokenView). */
export const TokenSchema = apiSchema(
  Type.Object({
    ...TokenRowSchema.properties,
    scope: Type.Object(
      {},
      { ...open, nullable: true, description: 'the stored scope; null when this server cannot read it' },
    ),
  }),
  TokenRowSchema.description,
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
