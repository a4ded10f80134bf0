/**
 * The host policy file (docs/security.md "The host policy file"): what this host does when the
 * server asks, whatever the server says. Root-owned JSON on the host, read once at start,
 * validated here into a frozen HostPolicy; the agents ask the matchers below before anything
 * runs. Shared by both agents: the BasicAgent reads /etc/basicagent/policy.json (commands,
 * run-as users, collectors, operator signatures), the BootAgent /etc/bootagent/policy.json (job
 * actions, package sources). Each file may hold every key; an agent uses the ones it enforces.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import {
  JOB_ACTIONS,
  normalizeSourceUrl,
  operatorPublicKey,
  parseSourcePrefix,
  sourceAllowed,
  type SourcePrefix,
} from '@aspire/protocol';
import { systemPrimaryGroup } from './primary-group.ts';
import { ConfigError, deepFreeze } from './config-check.ts';
import { parseJsonWithLine } from './json-position.ts';

export type CommandRule =
  | { kind: 'exact'; value: string }
  | { kind: 'prefix'; value: string }
  | { kind: 'pattern'; value: string; re: RegExp };

/** `'all'`: the key is absent or `"*"` (today's behaviour); a list allows only what it names. */
export type AllowList<T> = 'all' | readonly T[];

export interface HostPolicy {
  /** The file it came from, or "(built-in default: allow all)". */
  source: string;
  commands: AllowList<CommandRule>;
  users: AllowList<string>;
  /** Run-as groups (`sync.bash` `group`). 'all' with a users list: only the user's primary group. */
  groups: AllowList<string>;
  collectors: AllowList<string>;
  actions: AllowList<string>;
  /** Package source prefixes, checked once into normalised form (see @aspire/protocol source-url.ts). */
  sources: AllowList<SourcePrefix>;
  requireOperatorSignature: boolean;
  /** Parsed Ed25519 public keys of `operatorKeys`. */
  operatorKeys: readonly KeyObject[];
}

export const BASIC_POLICY_DEFAULT_PATH = '/etc/basicagent/policy.json';
export const BOOT_POLICY_DEFAULT_PATH = '/etc/bootagent/policy.json';

export const ALLOW_ALL_POLICY: Readonly<HostPolicy> = deepFreeze({
  source: '(built-in default: allow all)',
  commands: 'all',
  users: 'all',
  groups: 'all',
  collectors: 'all',
  actions: 'all',
  sources: 'all',
  requireOperatorSignature: false,
  operatorKeys: [],
});

const KEYS = [
  'version',
  'comment',
  'commands',
  'users',
  'groups',
  'collectors',
  'actions',
  'sources',
  'requireOperatorSignature',
  'operatorKeys',
];
const RULE_KINDS = ['exact', 'prefix', 'pattern'] as const;
/** After a prefix, the rest of the command may not chain, substitute or redirect (docs/security.md). */
const SHELL_CONTROL = /[;&|`$<>(){}\\\n\r!*?[\]~#'"]/;
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/;
const COLLECTOR_NAME = /^[a-z0-9_]+$/;

/** Parse and check a policy file's text. Throws ConfigError naming the line or every bad key. */
export function parseHostPolicy(text: string, source: string): Readonly<HostPolicy> {
  const raw = parseJsonWithLine(text, source);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(source, ['(top level): must be a JSON object']);
  const obj = raw as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(obj))
    if (!KEYS.includes(k)) problems.push(`${k}: unknown key (known: ${KEYS.join(' ')})`);
  if (obj.version !== undefined && obj.version !== 1)
    problems.push(`version: must be 1, got ${JSON.stringify(obj.version)}`);
  if (obj.comment !== undefined && typeof obj.comment !== 'string') problems.push('comment: must be a string');

  const list = <T>(key: string, item: (v: unknown, where: string) => T | undefined): AllowList<T> => {
    const v = obj[key];
    if (v === undefined || v === '*') return 'all';
    if (!Array.isArray(v)) {
      problems.push(`${key}: must be "*" (allow all) or a list`);
      return [];
    }
    const out: T[] = [];
    v.forEach((x, i) => {
      const r = item(x, `${key}[${i}]`);
      if (r !== undefined) out.push(r);
    });
    return out;
  };
  const name =
    (re: RegExp, what: string) =>
    (v: unknown, where: string): string | undefined => {
      if (typeof v !== 'string' || !re.test(v)) {
        problems.push(`${where}: must be ${what}, got ${JSON.stringify(v)}`);
        return undefined;
      }
      return v;
    };

  const commands = list<CommandRule>('commands', (v, where) => commandRule(v, where, problems));
  const users = list('users', name(USER_NAME, 'a user name'));
  const groups = list('groups', name(USER_NAME, 'a group name'));
  const collectors = list('collectors', (v, where) => {
    const n = typeof v === 'string' ? v.replace(/^getinfo\./, '') : v;
    return name(COLLECTOR_NAME, 'a collector name (users, os, cpu ...)')(n, where);
  });
  const actions = list('actions', (v, where) => {
    if (typeof v !== 'string' || !(JOB_ACTIONS as readonly string[]).includes(v)) {
      problems.push(`${where}: must be one of ${JOB_ACTIONS.join(' ')}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  });
  const sources = list('sources', (v, where) => {
    // A prefix ends at a scheme ("https://", "command://") or at a "/": "https://repo.example"
    // would also allow "https://repo.example.evil.net/...".
    const prefix = typeof v === 'string' ? parseSourcePrefix(v) : undefined;
    if (!prefix) {
      problems.push(
        `${where}: must be a URL prefix ending at the scheme ("https://") or at a "/" ("https://repo.example/pkgs/"), without "." or ".." segments, got ${JSON.stringify(v)}`,
      );
      return undefined;
    }
    return prefix;
  });
  let requireOperatorSignature = false;
  if (obj.requireOperatorSignature !== undefined) {
    if (typeof obj.requireOperatorSignature !== 'boolean')
      problems.push('requireOperatorSignature: must be true or false');
    else requireOperatorSignature = obj.requireOperatorSignature;
  }
  const operatorKeys: KeyObject[] = [];
  if (obj.operatorKeys !== undefined) {
    if (!Array.isArray(obj.operatorKeys)) problems.push('operatorKeys: must be a list of base64 Ed25519 public keys');
    else
      obj.operatorKeys.forEach((k, i) => {
        try {
          if (typeof k !== 'string') throw new Error('must be a string');
          operatorKeys.push(operatorPublicKey(k));
        } catch (err) {
          problems.push(`operatorKeys[${i}]: ${(err as Error).message}`);
        }
      });
  }
  if (requireOperatorSignature && operatorKeys.length === 0 && !problems.some((p) => p.startsWith('operatorKeys'))) {
    problems.push('operatorKeys: requireOperatorSignature is true, so at least one operator key is needed');
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  // KeyObjects are not frozen (they are opaque); the arrays holding them are.
  const policy: HostPolicy = {
    source,
    commands,
    users,
    groups,
    collectors,
    actions,
    sources,
    requireOperatorSignature,
    operatorKeys,
  };
  Object.freeze(operatorKeys);
  for (const l of [commands, users, groups, collectors, actions, sources]) if (l !== 'all') deepFreeze(l);
  return Object.freeze(policy);
}

function commandRule(v: unknown, where: string, problems: string[]): CommandRule | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    problems.push(`${where}: must be {"exact": CMD}, {"prefix": CMD} or {"pattern": REGEX}`);
    return undefined;
  }
  const keys = Object.keys(v);
  const kind = keys[0] as (typeof RULE_KINDS)[number];
  if (keys.length !== 1 || !RULE_KINDS.includes(kind)) {
    problems.push(`${where}: must have exactly one of exact, prefix, pattern; got ${JSON.stringify(keys)}`);
    return undefined;
  }
  const value = (v as Record<string, unknown>)[kind];
  if (typeof value !== 'string' || value.length === 0) {
    problems.push(`${where}.${kind}: must be a non-empty string`);
    return undefined;
  }
  if (kind === 'pattern') {
    try {
      // The pattern must match the whole command.
      return { kind, value, re: new RegExp(`^(?:${value})$`, 'u') };
    } catch (err) {
      problems.push(`${where}.pattern: ${(err as Error).message}`);
      return undefined;
    }
  }
  return { kind, value };
}

/**
 * Who may own the file: root, and refused when group or others may write it. A non-root agent
 * also accepts a file owned by its own user (it can do nothing its user could not do anyway).
 */
export function policyFileOwnerProblem(st: Pick<Stats, 'uid' | 'mode'>, euid: number): string | undefined {
  if (st.uid !== 0 && st.uid !== euid) return `must be owned by root (owner uid ${st.uid})`;
  if ((st.mode & 0o022) !== 0)
    return `must not be writable by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}; chmod 0644)`;
  return undefined;
}

/**
 * Read the policy file at the edge. Absent: the allow-all default (today's behaviour). Present:
 * owner and mode checked, then parsed; any problem is a ConfigError naming the file (the agents
 * exit 2 with it).
 */
export function loadHostPolicy(path: string, euid: number = process.geteuid?.() ?? 0): Readonly<HostPolicy> {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ALLOW_ALL_POLICY;
    throw new ConfigError(path, [`cannot read file: ${(err as Error).message}`]);
  }
  if (!st.isFile()) throw new ConfigError(path, ['not a regular file']);
  const owner = policyFileOwnerProblem(st, euid);
  if (owner) throw new ConfigError(path, [owner]);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read file: ${(err as Error).message}`]);
  }
  return parseHostPolicy(text, path);
}

/** Which rule refused, for the reply's message and the event. */
export type PolicyRule = 'command' | 'user' | 'group' | 'collector' | 'action' | 'source';
export type PolicyVerdict = { ok: true } | { ok: false; rule: PolicyRule; message: string };

const ALLOWED: PolicyVerdict = { ok: true };

function refuse(p: HostPolicy, rule: PolicyRule, what: string, detail?: string): PolicyVerdict {
  return {
    ok: false,
    rule,
    message: `refused by host policy ${p.source}: ${rule} ${what} is not allowed${detail ? ` (${detail})` : ''}`,
  };
}

export function commandRuleMatches(r: CommandRule, cmd: string): boolean {
  if (r.kind === 'exact') return cmd === r.value;
  if (r.kind === 'pattern') return r.re.test(cmd);
  return cmd.startsWith(r.value) && !SHELL_CONTROL.test(cmd.slice(r.value.length));
}

/**
 * A command (sync.bash, a server periodic task) run as `user` (absent: root) and `group` (absent:
 * the user's primary group). A `groups` list allows the groups it names; without one, a policy
 * that lists users allows only the user's primary group (`primaryGroupOf`, default `id -gn`), so
 * allowing `nobody` does not allow `{user: "nobody", group: "disk"}`.
 */
export function policyAllowsCommand(
  p: HostPolicy,
  cmd: string,
  user: string | undefined,
  group?: string,
  primaryGroupOf: (user: string) => string | undefined = systemPrimaryGroup,
): PolicyVerdict {
  const u = user ?? 'root';
  if (p.users !== 'all' && !p.users.includes(u)) return refuse(p, 'user', JSON.stringify(u));
  if (group !== undefined) {
    if (p.groups !== 'all') {
      if (!p.groups.includes(group))
        return refuse(p, 'group', JSON.stringify(group), `allowed: ${p.groups.join(' ') || 'none'}`);
    } else if (p.users !== 'all') {
      const primary = primaryGroupOf(u);
      if (primary !== group) {
        return refuse(
          p,
          'group',
          JSON.stringify(group),
          `the policy lists users but no groups: only the primary group of ${JSON.stringify(u)} (${primary ?? 'unknown'})`,
        );
      }
    }
  }
  if (p.commands !== 'all' && !p.commands.some((r) => commandRuleMatches(r, cmd))) {
    return refuse(
      p,
      'command',
      JSON.stringify(cmd.length > 200 ? `${cmd.slice(0, 200)}...` : cmd),
      'matches no exact, prefix or pattern rule',
    );
  }
  return ALLOWED;
}

/** A collector by name or method (`users` or `getinfo.users`). */
export function policyAllowsCollector(p: HostPolicy, method: string): PolicyVerdict {
  const name = method.replace(/^getinfo\./, '');
  if (p.collectors !== 'all' && !p.collectors.includes(name)) return refuse(p, 'collector', JSON.stringify(name));
  return ALLOWED;
}

/** A BootAgent job: its action, and its package source when it has one. */
export function policyAllowsJob(p: HostPolicy, action: string, url: string | undefined): PolicyVerdict {
  if (p.actions !== 'all' && !p.actions.includes(action)) return refuse(p, 'action', JSON.stringify(action));
  if (url !== undefined && p.sources !== 'all' && !sourceAllowed(p.sources, url)) {
    const n = normalizeSourceUrl(url);
    const why = n.ok ? `allowed: ${p.sources.map((s) => s.text).join(' ') || 'none'}` : n.reason;
    return refuse(p, 'source', JSON.stringify(redactUrl(url)), why);
  }
  return ALLOWED;
}

/** Never echo credentials of a URL (user:password@) into a reply or a log. */
function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}
