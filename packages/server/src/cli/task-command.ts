/**
 * `aspire task create|list|show|revoke|kick|retry`: the task engine's routes (POST /task, GET /task,
 * POST /task/revoke, POST /task/kick, POST /task/retry). Parameters never reach stdout in a table (they may hold
 * secrets); `-o json` shows what the server answers.
 */
import type { Command } from 'commander';
import { JOB_ACTIONS, SubtaskState } from '@aspire/protocol';
import {
  collect,
  positiveInt,
  runClient,
  unixSeconds,
  usageExit,
  withConnection,
  type ClientFlags,
} from './command-kit.ts';
import { UsageError } from './errors.ts';
import { json, renderRecord, renderTable, when, type Column } from './output.ts';

interface TaskRow {
  id: number;
  command: string;
  user: string | null;
  status: string;
  selector: string;
  tags: string | null;
  count: number;
  complete: number;
  gmt_create: number;
}

interface SubtaskRow {
  agentsn: string;
  state: string;
  attempts: number;
  errcode: number | null;
  message: string | null;
  gmt_modify: number;
}

interface CreateFlags extends ClientFlags {
  host?: string[];
  tag?: string;
  param?: string[];
  params?: string;
  delay?: string;
  batch?: string;
  retry?: string;
  retryInterval?: string;
  ttl?: string;
  windowStart?: string;
  windowEnd?: string;
  priority?: string;
  startAt?: string;
  maxErrors?: string;
  after?: string[];
  allowUnknown?: boolean;
}

/** --batch and --max-errors: a count or a percentage of the targets ("10%"), as the server takes them. */
function countOrPercent(flag: string, v: string | undefined, allowZero: boolean): number | string | undefined {
  if (v === undefined) return undefined;
  if (/^\d{1,3}(\.\d{1,2})?%$/.test(v) && Number.parseFloat(v) <= 100) return v;
  if (/^\d+$/.test(v) && Number(v) <= 100_000 && (allowZero || Number(v) >= 1)) return Number(v);
  throw new UsageError(
    `${flag} ${JSON.stringify(v)}: a count ${allowZero ? '0' : '1'}..100000 or a percentage such as 10%`,
  );
}

/** --start-at: an ISO 8601 time (unix seconds accepted too), sent as ISO UTC. */
function isoTime(flag: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v);
  if (!Number.isFinite(ms)) throw new UsageError(`${flag} ${JSON.stringify(v)}: an ISO 8601 time or unix seconds`);
  return new Date(ms).toISOString();
}

const TASK_COLUMNS: Column<TaskRow>[] = [
  { head: 'ID', cell: (t) => t.id },
  { head: 'COMMAND', cell: (t) => t.command },
  { head: 'STATUS', cell: (t) => t.status },
  { head: 'HOSTS', cell: (t) => (t.selector === 'tags' ? `tags ${t.tags ?? ''}` : 'agents') },
  { head: 'DONE', cell: (t) => `${t.complete}/${t.count}` },
  { head: 'BY', cell: (t) => t.user },
  { head: 'CREATED', cell: (t) => when(t.gmt_create) },
];

const SUBTASK_COLUMNS: Column<SubtaskRow>[] = [
  { head: 'AGENTSN', cell: (s) => s.agentsn },
  { head: 'STATE', cell: (s) => s.state },
  { head: 'ATTEMPTS', cell: (s) => s.attempts },
  { head: 'CODE', cell: (s) => s.errcode },
  { head: 'MESSAGE', cell: (s) => s.message },
  { head: 'CHANGED', cell: (s) => when(s.gmt_modify) },
];

function seconds(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`${flag} ${JSON.stringify(v)}: seconds (a number >= 0)`);
  return Number(v);
}

function taskId(v: string): number {
  return positiveInt('task id', v)!;
}

/** --params JSON object, then each --param k=v (a string) over it. */
export function taskParameters(params: string | undefined, pairs: readonly string[]): Record<string, unknown> {
  let out: Record<string, unknown> = {};
  if (params !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(params);
    } catch (err) {
      throw new UsageError(`--params: not JSON (${(err as Error).message})`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new UsageError('--params: a JSON object, e.g. \'{"name":"basic-agent","version":"1.2.0"}\'');
    out = { ...(raw as Record<string, unknown>) };
  }
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i < 1) throw new UsageError(`--param ${JSON.stringify(p)}: name=value`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

export function taskBody(action: string, flags: CreateFlags): Record<string, unknown> {
  if (!(JOB_ACTIONS as readonly string[]).includes(action))
    throw new UsageError(`action ${JSON.stringify(action)}: one of ${JOB_ACTIONS.join(' ')}`);
  const hosts = flags.host ?? [];
  if (hosts.length > 0 === (flags.tag !== undefined))
    throw new UsageError('give --host AGENTSN (repeatable, or a,b) or --tag k=v[,k2=v2], not both');
  if (flags.tag !== undefined && !/^[^=,]+=[^=,]*(,[^=,]+=[^=,]*)*$/.test(flags.tag))
    throw new UsageError(`--tag ${JSON.stringify(flags.tag)}: k=v[,k2=v2]`);
  const retry =
    flags.retry === undefined
      ? undefined
      : {
          count: Number(positiveInt('--retry', flags.retry, 100)),
          ...(flags.retryInterval !== undefined ? { interval: seconds('--retry-interval', flags.retryInterval) } : {}),
        };
  const windowStart = unixSeconds('--window-start', flags.windowStart);
  const windowEnd = unixSeconds('--window-end', flags.windowEnd);
  const body: Record<string, unknown> = {
    command: action,
    ...(hosts.length ? { agents: hosts } : { tags: flags.tag }),
    parameters: taskParameters(flags.params, flags.param ?? []),
    ...(flags.delay !== undefined ? { delay: seconds('--delay', flags.delay) } : {}),
    ...(flags.batch !== undefined ? { batch: countOrPercent('--batch', flags.batch, false) } : {}),
    ...(flags.maxErrors !== undefined ? { max_errors: countOrPercent('--max-errors', flags.maxErrors, true) } : {}),
    ...(flags.priority !== undefined
      ? { priority: flags.priority === '0' ? 0 : positiveInt('--priority', flags.priority, 4_294_967_295) }
      : {}),
    ...(flags.startAt !== undefined ? { start_at: isoTime('--start-at', flags.startAt) } : {}),
    ...(flags.after?.length ? { after: flags.after.map((id) => positiveInt('--after', id)) } : {}),
    ...(flags.allowUnknown ? { allow_unknown: true } : {}),
    ...(retry ? { retry } : {}),
    ...(flags.ttl !== undefined ? { ttl: seconds('--ttl', flags.ttl) } : {}),
    ...(windowStart !== undefined || windowEnd !== undefined
      ? {
          window: {
            ...(windowStart !== undefined ? { start: windowStart } : {}),
            ...(windowEnd !== undefined ? { end: windowEnd } : {}),
          },
        }
      : {}),
  };
  return body;
}

export function addTaskCommands(program: Command): void {
  const task = usageExit(program.command('task')).description(
    'create, list, show, revoke, kick and retry tasks (jobs for BootAgents)',
  );

  withConnection(task.command('create'))
    .description(`create a task: ACTION is one of ${JOB_ACTIONS.join(' ')}`)
    .argument('<action>', 'install upgrade uninstall restart stop start config')
    .option('--host <agentsn>', 'a host by AgentSN (repeat, or a,b)', collect)
    .option('--tag <k=v>', 'every host reporting all these tags (k=v[,k2=v2])')
    .option('--param <k=v>', 'a job parameter, as a string (repeat)', (v: string, p: string[] = []) => [...p, v])
    .option('--params <json>', 'job parameters as a JSON object (--param wins per key)')
    .option('--delay <s>', 'seconds before the first attempt')
    .option('--batch <n|P%>', 'at most this many hosts in flight, or a percentage of the targets')
    .option('--max-errors <n|P%>', 'failures allowed before the task halts (default 0), or a percentage')
    .option('--priority <n>', 'lower first (default 1024), within and across tasks')
    .option('--start-at <time>', 'no subtask before this time (ISO 8601 or unix s)')
    .option('--after <id>', 'run per host after this task succeeded there (repeat, or a,b)', collect)
    .option('--allow-unknown', 'record unknown AgentSNs as FAILED subtasks instead of refusing the task')
    .option('--retry <n>', 'retries of a failed subtask')
    .option('--retry-interval <s>', 'seconds between retries')
    .option('--ttl <s>', 'not started by then: FAILED')
    .option('--window-start <time>', 'tag task window start (unix s or ISO)')
    .option('--window-end <time>', 'tag task window end (unix s or ISO)')
    .addHelpText(
      'after',
      '\nExamples:\n  aspire task create install --tag role=web --param name=basic-agent --param version=1.2.0\n  aspire task create config --host sn-1 --params \'{"step":30}\'',
    )
    .action((action: string, flags: CreateFlags) =>
      runClient(flags, async ({ client, mode, out }) => {
        const body = taskBody(action, flags);
        const r = await client.request('POST', '/task', { json: body });
        const results = (r.results as { AgentSN: string; errcode?: number }[] | undefined) ?? [];
        if (mode === 'json') return void out.write(json({ id: r.id, results }));
        const refused = results.filter((x) => x.errcode !== undefined);
        out.write(
          `task ${String(r.id)}: ${results.length - refused.length} subtasks${refused.length ? `; refused: ${refused.map((x) => `${x.AgentSN} (${x.errcode})`).join(', ')}` : ''}\n`,
        );
      }),
    );

  withConnection(task.command('list'))
    .description('list tasks, newest first')
    .option('--status <s>', 'RUNNING, COMPLETE, REVOKED or HALTED')
    .option('--command <action>', 'only this action')
    .option('--limit <n>', 'at most this many (default 100)', '100')
    .addHelpText('after', '\nExample:\n  aspire task list --status RUNNING')
    .action((flags: ClientFlags & { status?: string; command?: string; limit?: string }) =>
      runClient(flags, async ({ client, mode, out }) => {
        if (flags.status !== undefined && !['RUNNING', 'COMPLETE', 'REVOKED', 'HALTED'].includes(flags.status))
          throw new UsageError(`--status ${JSON.stringify(flags.status)}: RUNNING, COMPLETE, REVOKED or HALTED`);
        const limit = positiveInt('--limit', flags.limit, 100_000)!;
        const { count, items } = await client.all<TaskRow>(
          '/task',
          'tasks',
          { status: flags.status, command: flags.command, order: 'desc', sortby: 'id' },
          limit,
        );
        out.write(
          mode === 'json'
            ? json({ count, tasks: items })
            : `${renderTable(TASK_COLUMNS, items)}${items.length} of ${count} tasks\n`,
        );
      }),
    );

  withConnection(task.command('show'))
    .description('one task: its fields, subtasks per state, and each subtask')
    .argument('<id>', 'task id')
    .option('--state <state>', `only subtasks in this state (${Object.values(SubtaskState).join(' ')})`)
    .addHelpText('after', '\nExample:\n  aspire task show 42 --state FAILED')
    .action((id: string, flags: ClientFlags & { state?: string }) =>
      runClient(flags, async ({ client, mode, out }) => {
        if (flags.state !== undefined && !(Object.values(SubtaskState) as string[]).includes(flags.state))
          throw new UsageError(
            `--state ${JSON.stringify(flags.state)}: one of ${Object.values(SubtaskState).join(' ')}`,
          );
        const r = await client.request('GET', '/task', { query: { id: taskId(id), state: flags.state } });
        if (mode === 'json') return void out.write(json({ task: r.task, states: r.states, subtasks: r.subtasks }));
        const t = r.task as TaskRow & Record<string, unknown>;
        const { parameters: _secret, ...shown } = t;
        out.write(
          renderRecord({ ...shown, gmt_create: when(t.gmt_create), gmt_modify: when(t.gmt_modify), states: r.states }),
        );
        out.write(renderTable(SUBTASK_COLUMNS, (r.subtasks as SubtaskRow[] | undefined) ?? []));
      }),
    );

  for (const [verb, field, what] of [
    ['revoke', 'revoked', 'revoke a task: every subtask not RESERVED and not final becomes REVOKED'],
    ['kick', 'kicked', 'move the BURIED subtasks of a task back to READY'],
    ['retry', 'retried', 'run the FAILED, BURIED and REVOKED subtasks of a task again (fresh attempts)'],
  ] as const) {
    withConnection(task.command(verb))
      .description(what)
      .argument('<id>', 'task id')
      .addHelpText('after', `\nExample:\n  aspire task ${verb} 42`)
      .action((id: string, flags: ClientFlags) =>
        runClient(flags, async ({ client, mode, out }) => {
          const n = taskId(id);
          const r = await client.request('POST', `/task/${verb}`, { json: { id: n } });
          const { status: _s, message: _m, ...rest } = r;
          out.write(mode === 'json' ? json({ id: n, ...rest }) : `task ${n}: ${String(r[field] ?? 0)} ${field}\n`);
        }),
      );
  }
}
