/**
 * The scope check of a request that sends commands to hosts (POST /task, Polaris): which hosts,
 * which command, which run-as user. Answers the refusal's cause, naming everything outside the
 * token's scope, or undefined when all of it is inside. Nothing is sent before this passes.
 */
import type { Operator } from './operator.ts';
import {
  commandAllowed,
  groupAllowed,
  hasHostSelector,
  hostInScope,
  taskPartsOutside,
  userAllowed,
  type OperatorScope,
} from './operator-scope.ts';

export interface CommandIntent {
  /** Hosts named directly (Polaris hosts[] entries, task AgentSNs), with what the hub knows of each. */
  hosts?: { name: string; hint?: { agentsn?: string; hostname?: string } }[];
  /** A tag task's selector `k=v,k2=v2` (hosts carrying all of them). */
  tags?: string;
  /** The command as the allow list sees it; several when a line can be read more than one way. */
  commands: string[];
  /** Run-as users, same. */
  users: string[];
  /** Run-as groups asked for (sync.bash `group`). */
  groups?: string[];
  /** A task's action and parameters: its url, envs and config are checked too. */
  task?: { command: string; parameters: Record<string, unknown> };
}

const MAX_NAMED = 20;

function nameList(xs: readonly string[]): string {
  const shown = xs
    .slice(0, MAX_NAMED)
    .map((x) => JSON.stringify(x))
    .join(', ');
  return xs.length > MAX_NAMED ? `${shown} and ${xs.length - MAX_NAMED} more` : shown;
}

/**
 * Host lookups in flight at once. A scoped token's fan-out to 10,000 hosts is 10,000 lookups: one
 * after the other they are 10,000 database round trips on PostgreSQL; a few dozen at a time keep
 * the pool busy without queueing the whole list on it.
 */
const LOOKUPS_IN_FLIGHT = 32;

async function hostsOutside(op: Operator, hosts: NonNullable<CommandIntent['hosts']>): Promise<string[]> {
  const scope = op.scope;
  if (!hasHostSelector(scope)) return [];
  const isOutside = new Array<boolean>(hosts.length).fill(false);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < hosts.length; i = next++) {
      const h = hosts[i]!;
      // The agentsn the command goes to decides: a name that the hub routes to a connection (as a
      // hostname, say) is not inside because it equals some other agentsn of the scope.
      const routedTo = h.hint?.agentsn ?? (h.hint ? undefined : h.name);
      if (routedTo !== undefined && scope.agentsn?.includes(routedTo)) continue;
      // Unknown to the store = cannot be shown inside; a name matching several hosts needs all inside.
      const facts = await op.hosts(h.name, h.hint);
      isOutside[i] = facts.length === 0 || !facts.every((f) => hostInScope(scope, f));
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOOKUPS_IN_FLIGHT, hosts.length) }, worker));
  // In the order the request named them, as before.
  return hosts.filter((_, i) => isOutside[i]).map((h) => h.name);
}

/** A tag task reaches only hosts carrying all its tags: inside when one of them is a scope tag. */
function tagTaskInside(scope: OperatorScope, tags: string): boolean {
  if (!hasHostSelector(scope)) return true;
  const asked = tags.split(',').map((t) => t.trim());
  return Boolean(scope.tags?.some((t) => asked.includes(t)));
}

export async function scopeRefusal(op: Operator, intent: CommandIntent): Promise<string | undefined> {
  const why: string[] = [];
  const outside = await hostsOutside(op, intent.hosts ?? []);
  if (outside.length) why.push(`hosts outside the scope of token ${JSON.stringify(op.name)}: ${nameList(outside)}`);
  if (intent.tags !== undefined && !tagTaskInside(op.scope, intent.tags)) {
    why.push(
      `tags ${JSON.stringify(intent.tags)} select hosts outside the scope of token ${JSON.stringify(op.name)} (its tags: ${op.scope.tags?.join(',') ?? 'none'})`,
    );
  }
  const badCommands = intent.commands.filter((c) => !commandAllowed(op.scope, c));
  if (badCommands.length)
    why.push(`command ${nameList(badCommands)} is not in the allow list of token ${JSON.stringify(op.name)}`);
  const badUsers = intent.users.filter((u) => !userAllowed(op.scope, u));
  if (badUsers.length)
    why.push(
      `run-as user ${nameList(badUsers)} is not allowed for token ${JSON.stringify(op.name)} (allowed: ${op.scope.users?.join(',')})`,
    );
  const badGroups = (intent.groups ?? []).filter((g) => !groupAllowed(op.scope, g));
  if (badGroups.length) {
    const allowed = op.scope.groups
      ? `allowed: ${op.scope.groups.join(',')}`
      : "its scope lists users but no groups: leave group out to run with the user's primary group";
    why.push(`run-as group ${nameList(badGroups)} is not allowed for token ${JSON.stringify(op.name)} (${allowed})`);
  }
  if (intent.task) {
    const parts = taskPartsOutside(op.scope, intent.task.command, intent.task.parameters);
    if (parts.length) why.push(`outside the scope of token ${JSON.stringify(op.name)}: ${parts.join(', ')}`);
  }
  return why.length ? why.join('; ') : undefined;
}

const USER_NAME = /^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/;

/**
 * The (user, command) readings of a periodic-task line (`[S] M H DoM Mon DoW user command`, or
 * `@macro user command`). The agent decides between five and six schedule fields by the sixth
 * token; the server does not repeat that rule: it checks every reading with a valid user name,
 * so the one the agent takes is among them. No reading: the line is checked as a whole.
 */
export function taskLineReadings(line: string): { user: string; command: string }[] {
  const tokens = line.trim().split(/\s+/);
  const out: { user: string; command: string }[] = [];
  const reading = (n: number) => {
    if (tokens.length < n + 2 || !USER_NAME.test(tokens[n]!)) return;
    out.push({ user: tokens[n]!, command: line.trim().replace(new RegExp(`^(\\S+\\s+){${n + 1}}`), '') });
  };
  if (tokens[0]?.startsWith('@')) reading(1);
  else {
    reading(5);
    reading(6);
  }
  return out.length ? out : [{ user: '', command: line.trim() }];
}
