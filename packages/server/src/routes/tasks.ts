/**
 * Tasks (design.md §5, design.md §5, issue 13): POST /task by AgentSN list or by tags within a
 * window; GET /task?id= (task + subtasks) or GET /task (list); POST /task/revoke, /task/kick
 * (a whole task or one subtask), /task/touch and /task/retry (one subtask). Times in answers are ISO 8601 UTC strings.
 */
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { configJob, subAgentJob } from '@aspire/protocol';
import type { PartContext } from '../app-context.ts';
import type { PackageStore } from '../store/package-store.ts';
import type { TaskStore } from '../store/task-store.ts';
import { auditDispatch, hostsSelector, noteAudit } from '../http/audit.ts';
import { operatorOf, type Operator } from '../http/operator.ts';
import { scopeRefusal } from '../http/scope-gate.ts';
import { ok, sendError } from '../http/envelope.ts';
import { toPaging } from '../http/paging.ts';
import { TaskAnswer, TaskCreated } from '../http/response-schemas.ts';
import {
  IdBody,
  Kicked,
  Retried,
  Revoked,
  SubtaskBody,
  TASK_BODY_LIMIT,
  TaskBody,
  TaskQuery,
  Touched,
} from './task-schemas.ts';
import { SUBTASK_TIME_FIELDS, TASK_TIME_FIELDS, withIsoTimes } from '../http/iso-time.ts';
import type { SubtaskRow, TaskRow, TaskSpec } from '../store/store.ts';
import { deriveName, HOW_TO_NAME } from '../tasks/package-name.ts';
import { parseCountOrPercent } from '../tasks/state-machine.ts';

const taskOut = (t: TaskRow) => withIsoTimes(t, TASK_TIME_FIELDS);
const subtaskOut = (s: SubtaskRow) => withIsoTimes(s, SUBTASK_TIME_FIELDS);
function toMs(t: number | string | undefined): number | undefined {
  if (t === undefined) return undefined;
  return typeof t === 'number' ? Math.round(t * 1000) : Date.parse(t);
}

type TaskContext = PartContext<TaskStore & PackageStore>;
type Refusal = { name: 'BAD_REQUEST' | 'NOT_FOUND' | 'FORBIDDEN'; cause: string };

/** Routes in their registration order: create, read, then the mutations of one task or subtask. */
export async function taskRoutes(app: FastifyInstance, ctx: TaskContext): Promise<void> {
  registerCreateTask(app, ctx);
  registerGetTask(app, ctx);
  registerRevoke(app, ctx);
  registerKick(app, ctx);
  registerRetry(app, ctx);
  registerTouch(app, ctx);
}

/** Below admin, a token may revoke or kick only the tasks it created (their scope was checked then). */
async function notOwnTask(
  ctx: TaskContext,
  id: number,
  op: Operator,
): Promise<{ name: 'NOT_FOUND' | 'FORBIDDEN'; cause: string } | undefined> {
  if (op.role === 'admin') return undefined;
  // A state no subtask is in: the task row without loading its subtasks.
  const t = await ctx.store.getTask(id, { state: 'none' });
  if (!t) return { name: 'NOT_FOUND', cause: `no task ${id}` };
  if (t.task.user !== op.name)
    return {
      name: 'FORBIDDEN',
      cause: `task ${id} was created by another token; role ${op.role} may change only its own`,
    };
  return undefined;
}

const mutationError = (reason: 'not_found' | 'conflict' | 'bad_request') =>
  reason === 'not_found'
    ? ('NOT_FOUND' as const)
    : reason === 'conflict'
      ? ('CONFLICT' as const)
      : ('BAD_REQUEST' as const);

/** A task body's checks that need no operator: its parameters (named), batch, max_errors, start_at. */
interface CheckedBody {
  parameters: Record<string, unknown>;
  batch: { count: number; pct: number | null };
  maxErrors: { count: number; pct: number | null };
  startAt: number | undefined;
}

async function checkTaskBody(b: TaskBody, ctx: TaskContext): Promise<CheckedBody | Refusal> {
  const bad = (cause: string): Refusal => ({ name: 'BAD_REQUEST', cause });
  if ((b.agents === undefined) === (b.tags === undefined)) return bad('give exactly one of agents or tags');
  if (b.window && !b.tags) return bad('window applies to tag tasks only');
  const parameters = { ...(b.parameters ?? {}) };
  if ('id' in parameters || 'action' in parameters) return bad('parameters must not set id or action');
  // Seed 000's example names the sub-agent only through its url: a registered package or the
  // URL itself gives the name.
  if (b.command !== 'config' && parameters.name === undefined) {
    if (typeof parameters.url !== 'string') return bad(HOW_TO_NAME);
    const derived = await deriveName(parameters.url, ctx.store);
    if (!derived.ok) return bad(derived.cause);
    parameters.name = derived.name;
  }
  const batch = parseCountOrPercent(b.batch ?? 0);
  const maxErrors = parseCountOrPercent(b.max_errors ?? 0);
  if (!batch || !maxErrors) return bad('batch, max_errors: a count or a percentage up to 100%');
  const startAt = b.start_at === undefined ? undefined : Date.parse(b.start_at);
  if (startAt !== undefined && !Number.isFinite(startAt)) return bad('start_at: an ISO 8601 UTC time');
  const probe = { ...parameters, id: 'probe', action: b.command };
  const check = b.command === 'config' ? configJob.validate(probe) : subAgentJob.validate(probe);
  if (!check.ok) return bad(`parameters: ${check.errors.join('; ')}`);
  if ((b.command === 'install' || b.command === 'upgrade') && parameters.url === undefined) {
    if (typeof parameters.version !== 'string')
      return bad('parameters: give url, or name and version of an uploaded package');
    const pkg = await ctx.store.findPackage(parameters.name as string, parameters.version);
    if (!pkg)
      return { name: 'NOT_FOUND', cause: `no package ${String(parameters.name)} ${parameters.version} uploaded` };
  }
  return { parameters, batch, maxErrors, startAt };
}

/**
 * Scope (docs/security.md): hosts, the command (`action name`) and the run-as user, checked
 * before the task exists; the audit's dispatch row is written before any host can get it.
 */
async function scopeOfTask(
  request: FastifyRequest,
  op: Operator,
  b: TaskBody,
  parameters: Record<string, unknown>,
): Promise<string | undefined> {
  const runAs = typeof parameters.user === 'string' ? parameters.user : 'root';
  const command = typeof parameters.name === 'string' ? `${b.command} ${parameters.name}` : b.command;
  noteAudit(request, {
    command,
    runAs,
    ...(b.agents ? { targets: b.agents.length, selector: hostsSelector(b.agents) } : { selector: `tags=${b.tags}` }),
  });
  return scopeRefusal(op, {
    ...(b.agents ? { hosts: b.agents.map((name) => ({ name })) } : { tags: b.tags! }),
    commands: [command],
    users: [runAs],
    task: { command: b.command, parameters },
  });
}

function toTaskSpec(
  b: TaskBody,
  checked: CheckedBody,
  op: Operator,
  window: { start: number | undefined; end: number | undefined },
  ctx: TaskContext,
): TaskSpec {
  const { parameters, batch, maxErrors, startAt } = checked;
  return {
    command: b.command,
    parameters,
    // Who issued it (design.md §5 tasks.user): always the token's name; a body `user` is ignored.
    user: op.name,
    agents: b.agents,
    tags: b.tags,
    windowStart: window.start,
    windowEnd: window.end,
    delayMs: Math.round((b.delay ?? 0) * 1000),
    batch: batch.count,
    batchPct: batch.pct,
    maxErrors: maxErrors.count,
    maxErrorsPct: maxErrors.pct,
    priority: b.priority,
    startAt,
    after: b.after,
    buriedTtlMs: Math.round(ctx.config.taskBuriedTtlSec * 1000),
    retryCount: b.retry?.count ?? 0,
    retryIntervalMs: Math.round((b.retry?.interval ?? 0) * 1000),
    ttlMs: Math.round((b.ttl ?? 0) * 1000),
    ttrMs: Math.round((b.ttr ?? ctx.config.taskTtrSec) * 1000),
  };
}

function registerCreateTask(app: FastifyInstance, ctx: TaskContext): void {
  app.post<{ Body: TaskBody }>(
    '/task',
    {
      bodyLimit: Math.max(TASK_BODY_LIMIT, ctx.config.bodyLimitBytes),
      schema: {
        tags: ['task'],
        summary: 'Create a task: one subtask per AgentSN, or per host matching tags in a window',
        body: TaskBody,
        response: { 200: TaskCreated },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const checked = await checkTaskBody(b, ctx);
      if ('cause' in checked) return sendError(reply, checked.name, checked.cause);
      const op = operatorOf(request)!;
      const refusal = await scopeOfTask(request, op, b, checked.parameters);
      if (refusal) return sendError(reply, 'FORBIDDEN', refusal);
      const now = ctx.clock.now();
      const windowStart = toMs(b.window?.start);
      const windowEnd = toMs(b.window?.end);
      if (Number.isNaN(windowStart) || Number.isNaN(windowEnd))
        return sendError(reply, 'BAD_REQUEST', 'window: bad time');
      if (windowStart !== undefined && windowEnd !== undefined && windowEnd <= windowStart)
        return sendError(reply, 'BAD_REQUEST', 'window: end must be after start');
      const spec = toTaskSpec(b, checked, op, { start: windowStart, end: windowEnd }, ctx);
      const unknown = await ctx.store.unknownTargets([], b.after ?? []);
      if (unknown.tasks.length)
        return sendError(reply, 'BAD_REQUEST', `after: unknown task ids ${unknown.tasks.join(', ')}`);
      // Unknown AgentSNs are found by the same set-based insert that splits the task (one join
      // over 100,000, not two); without allow_unknown that transaction is undone and they are
      // answered. The dispatch row precedes it: a job may reach a host as soon as it commits.
      await auditDispatch(request);
      const {
        id,
        results,
        unknown: unknownHosts,
      } = await ctx.store.createTask({ ...spec, refuseUnknown: b.allow_unknown !== true }, now);
      if (unknownHosts) {
        const n = unknownHosts.length;
        const cause = `unknown AgentSN (${n}): ${unknownHosts.slice(0, 100).join(', ')}${n > 100 ? ', ...' : ''}; register them first, or send allow_unknown: true to record them FAILED`;
        return sendError(reply, 'BAD_REQUEST', cause, { unknown: unknownHosts });
      }
      // The parameters may hold secrets: never audited or logged.
      const failed = results.filter((r) => r.errcode !== undefined).length;
      noteAudit(request, {
        targets: results.length,
        outcome: `task ${id}: ${results.length - failed} subtasks${failed ? `, ${failed} unknown hosts recorded FAILED` : ''}`,
      });
      ctx.kickScheduler();
      return reply.send(ok({ id, results }));
    },
  );
}

function registerGetTask(app: FastifyInstance, ctx: TaskContext): void {
  app.get<{ Querystring: Static<typeof TaskQuery> }>(
    '/task',
    {
      schema: {
        tags: ['task'],
        summary: 'One task with its subtasks and per-state counts (?id=[&state=]), or a page of tasks',
        querystring: TaskQuery,
        response: { 200: TaskAnswer },
      },
    },
    async (request, reply) => {
      const q = request.query;
      if (q.id !== undefined) {
        const t = await ctx.store.getTask(q.id, { state: q.state });
        if (!t) return sendError(reply, 'NOT_FOUND', `no task ${q.id}`);
        return reply.send(ok({ task: taskOut(t.task), states: t.states, subtasks: t.subtasks.map(subtaskOut) }));
      }
      const page = await ctx.store.listTasks({ status: q.status, command: q.command }, toPaging(q));
      return reply.send(
        ok({ count: page.count, offset: page.offset, limit: page.limit, tasks: page.items.map(taskOut) }),
      );
    },
  );
}

function registerRevoke(app: FastifyInstance, ctx: TaskContext): void {
  app.post<{ Body: Static<typeof IdBody> }>(
    '/task/revoke',
    {
      schema: {
        tags: ['task'],
        summary:
          'Revoke a task (or one subtask with `subtask`): waiting subtasks become REVOKED; RESERVED ones are marked and their hosts told to cancel (`cancelling`)',
        body: IdBody,
        response: { 200: Revoked },
      },
    },
    async (request, reply) => {
      const { id, subtask } = request.body;
      const refused = await notOwnTask(ctx, id, operatorOf(request)!);
      if (refused) return sendError(reply, refused.name, refused.cause);
      const r =
        subtask === undefined
          ? await ctx.store.revokeTask(id, ctx.clock.now())
          : await ctx.store.revokeSubtask(id, subtask, ctx.clock.now());
      if (!r.ok) return sendError(reply, mutationError(r.reason), r.cause);
      noteAudit(request, {
        outcome: `task ${id}${subtask ? ` subtask ${subtask}` : ''}: ${r.value.revoked} revoked, ${r.value.cancelling} cancelling`,
      });
      return reply.send(ok(r.value));
    },
  );
}

function registerKick(app: FastifyInstance, ctx: TaskContext): void {
  app.post<{ Body: Static<typeof IdBody> }>(
    '/task/kick',
    {
      schema: {
        tags: ['task'],
        summary: 'Move BURIED and DELAYED subtasks of a task (or one subtask) to READY now',
        body: IdBody,
        response: { 200: Kicked },
      },
    },
    async (request, reply) => {
      const { id, subtask } = request.body;
      const refused = await notOwnTask(ctx, id, operatorOf(request)!);
      if (refused) return sendError(reply, refused.name, refused.cause);
      const r = await ctx.store.kickTask(id, ctx.clock.now(), subtask);
      if (!r.ok) return sendError(reply, mutationError(r.reason), r.cause);
      noteAudit(request, { outcome: `task ${id}${subtask ? ` subtask ${subtask}` : ''}: ${r.value.kicked} kicked` });
      ctx.kickScheduler();
      return reply.send(ok(r.value));
    },
  );
}

function registerRetry(app: FastifyInstance, ctx: TaskContext): void {
  app.post<{ Body: Static<typeof IdBody> }>(
    '/task/retry',
    {
      schema: {
        tags: ['task'],
        summary:
          'Retry the FAILED, BURIED and REVOKED subtasks of a task (or one, with `subtask`): back to PENDING and admitted (batch, dependencies), fresh attempts with new job ids; a COMPLETE task runs again, a HALTED one too when retried whole (one subtask of a HALTED task runs alone); 409 in a REVOKED task -> {retried[, state]}',
        body: IdBody,
        response: { 200: Retried },
      },
    },
    async (request, reply) => {
      const { id, subtask } = request.body;
      const refused = await notOwnTask(ctx, id, operatorOf(request)!);
      if (refused) return sendError(reply, refused.name, refused.cause);
      const now = ctx.clock.now();
      const r =
        subtask === undefined ? await ctx.store.retryTask(id, now) : await ctx.store.retrySubtask(id, subtask, now);
      if (!r.ok) return sendError(reply, mutationError(r.reason), r.cause);
      noteAudit(request, {
        outcome:
          'state' in r.value
            ? `task ${id} subtask ${subtask}: retried, now ${r.value.state}`
            : `task ${id}: ${r.value.retried} subtasks retried`,
      });
      ctx.kickScheduler();
      return reply.send(ok(r.value));
    },
  );
}

function registerTouch(app: FastifyInstance, ctx: TaskContext): void {
  app.post<{ Body: Static<typeof SubtaskBody> }>(
    '/task/touch',
    {
      schema: {
        tags: ['task'],
        summary: 'Give a RESERVED subtask its full ttr again from now (409 when it is not RESERVED)',
        body: SubtaskBody,
        response: { 200: Touched },
      },
    },
    async (request, reply) => {
      const { id, subtask } = request.body;
      const refused = await notOwnTask(ctx, id, operatorOf(request)!);
      if (refused) return sendError(reply, refused.name, refused.cause);
      const r = await ctx.store.touchSubtask(id, subtask, ctx.clock.now());
      if (!r.ok) return sendError(reply, mutationError(r.reason), r.cause);
      noteAudit(request, { outcome: `task ${id} subtask ${subtask}: touched` });
      return reply.send(ok(r.value));
    },
  );
}
