/**
 * Operator roles and scopes (docs/security.md "Operators: roles, scopes, address allow lists"):
 * pure checks, no I/O. A scope is validated once (checkScope, at `aspire token create` and again
 * when the stored JSON is read, failing closed) into a typed value.
 */
import { BlockList, isIP } from 'node:net';
import { normalizeSourceUrl, parseSourcePrefix, sourceAllowed, type SourcePrefix } from '@aspire/protocol';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

/** viewer < operator < admin. */
export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export type CommandRule = { kind: 'exact' | 'prefix' | 'regex'; value: string };

/** Every field absent = no limit on that axis. */
export interface OperatorScope {
  /** Host selector: a host is inside when it carries one of these tags (`k=v`), */
  tags?: string[];
  /** or is in one of these regions (id or name), */
  regions?: string[];
  /** or is one of these AgentSNs. */
  agentsn?: string[];
  /** Commands allowed (sync.bash cmd, task action, task.add command). */
  commands?: CommandRule[];
  /** Run-as users allowed (sync.bash user, default root; a task's parameters.user). */
  users?: string[];
  /** Run-as groups allowed (sync.bash group). Absent with `users` set: no explicit group at all. */
  groups?: string[];
  /** Package sources of install/upgrade tasks: URL prefixes (`https://repo/pkgs/`) or schemes (`command://`). */
  sources?: string[];
  /** Task parts a limited scope (commands or sources set) must allow by name: `envs`, `config`. */
  allow?: TaskExtra[];
  /** Source addresses allowed (CIDRs or single addresses). */
  cidrs?: string[];
}

export const SCOPE_KEYS = [
  'tags',
  'regions',
  'agentsn',
  'commands',
  'users',
  'groups',
  'sources',
  'allow',
  'cidrs',
] as const;
export const TASK_EXTRAS = ['envs', 'config'] as const;
export type TaskExtra = (typeof TASK_EXTRAS)[number];
const MAX_LIST = 10_000;

function stringList(
  raw: unknown,
  key: string,
  problems: string[],
  check?: (s: string) => string | undefined,
): string[] | undefined {
  if (raw === undefined) return undefined;
  if (
    !Array.isArray(raw) ||
    raw.length === 0 ||
    raw.length > MAX_LIST ||
    raw.some((x) => typeof x !== 'string' || x.length === 0 || x.length > 1024)
  ) {
    problems.push(`${key}: must be a non-empty list of non-empty strings`);
    return undefined;
  }
  for (const s of raw as string[]) {
    const why = check?.(s);
    if (why) problems.push(`${key}: ${JSON.stringify(s)} ${why}`);
  }
  return [...(raw as string[])];
}

/** `exact:TEXT`, `prefix:TEXT`, `regex:RE`; a rule without a kind is exact. */
export function parseCommandRule(text: string): CommandRule {
  const m = /^(exact|prefix|regex):([\s\S]*)$/.exec(text);
  return m ? { kind: m[1] as CommandRule['kind'], value: m[2]! } : { kind: 'exact', value: text };
}

function parseCidr(text: string): { net: string; prefix: number; type: 'ipv4' | 'ipv6' } | undefined {
  const [addr, bits, ...rest] = text.split('/');
  if (rest.length || !addr) return undefined;
  const v = isIP(addr);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { net: addr, prefix, type: v === 4 ? 'ipv4' : 'ipv6' };
}

/** Check a raw scope object (stored JSON or CLI flags); every problem listed. */
export function checkScope(raw: unknown): { ok: true; scope: OperatorScope } | { ok: false; problems: string[] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, problems: ['scope: must be an object'] };
  const r = raw as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(r))
    if (!(SCOPE_KEYS as readonly string[]).includes(k)) problems.push(`${k}: unknown scope key`);
  const scope: OperatorScope = {};
  const tags = stringList(r.tags, 'tags', problems, (s) => (/^[^=,]+=[^=,]*$/.test(s) ? undefined : 'is not k=v'));
  const regions = stringList(r.regions, 'regions', problems);
  const agentsn = stringList(r.agentsn, 'agentsn', problems);
  const users = stringList(r.users, 'users', problems, (s) =>
    /^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/.test(s) ? undefined : 'is not a user name',
  );
  const groups = stringList(r.groups, 'groups', problems, (s) =>
    /^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/.test(s) ? undefined : 'is not a group name',
  );
  const sources = stringList(r.sources, 'sources', problems, (s) =>
    parseSourcePrefix(s)
      ? undefined
      : 'is not a URL prefix ending at the scheme ("https://") or at a "/", without "." or ".." segments',
  );
  const allow = stringList(r.allow, 'allow', problems, (s) =>
    (TASK_EXTRAS as readonly string[]).includes(s) ? undefined : `is not one of ${TASK_EXTRAS.join(' ')}`,
  );
  const cidrs = stringList(r.cidrs, 'cidrs', problems, (s) => (parseCidr(s) ? undefined : 'is not an address or CIDR'));
  if (tags) scope.tags = tags;
  if (regions) scope.regions = regions;
  if (agentsn) scope.agentsn = agentsn;
  if (users) scope.users = users;
  if (groups) scope.groups = groups;
  if (sources) scope.sources = sources;
  if (allow) scope.allow = allow as TaskExtra[];
  if (cidrs) scope.cidrs = cidrs;
  if (r.commands !== undefined) {
    const list = r.commands;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_LIST)
      problems.push('commands: must be a non-empty list of rules');
    else {
      const rules: CommandRule[] = [];
      for (const c of list as unknown[]) {
        const ok =
          typeof c === 'object' &&
          c !== null &&
          ['exact', 'prefix', 'regex'].includes((c as CommandRule).kind) &&
          typeof (c as CommandRule).value === 'string' &&
          (c as CommandRule).value.length > 0;
        if (!ok) {
          problems.push(`commands: ${JSON.stringify(c)} is not {kind: exact|prefix|regex, value}`);
          continue;
        }
        const rule = { kind: (c as CommandRule).kind, value: (c as CommandRule).value };
        if (rule.kind === 'regex') {
          try {
            new RegExp(rule.value);
          } catch (err) {
            problems.push(`commands: regex ${JSON.stringify(rule.value)}: ${(err as Error).message}`);
          }
        }
        rules.push(rule);
      }
      scope.commands = rules;
    }
  }
  return problems.length ? { ok: false, problems } : { ok: true, scope };
}

/** An address allow list; undefined or empty list = every address. */
export function addressList(cidrs: readonly string[] | undefined): BlockList | undefined {
  if (!cidrs?.length) return undefined;
  const list = new BlockList();
  for (const c of cidrs) {
    const p = parseCidr(c);
    if (p) list.addSubnet(p.net, p.prefix, p.type);
  }
  return list;
}

/** Whether `ip` (as the socket reports it; IPv4-mapped IPv6 counts as IPv4) is on the list. */
export function addressAllowed(list: BlockList | undefined, ip: string): boolean {
  if (!list) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const addr = mapped ? mapped[1]! : ip;
  const v = isIP(addr);
  if (v === 0) return false;
  return list.check(addr, v === 4 ? 'ipv4' : 'ipv6');
}

export function hasHostSelector(scope: OperatorScope): boolean {
  return Boolean(scope.tags?.length || scope.regions?.length || scope.agentsn?.length);
}

/** A host is inside when the scope selects every host, or it matches any one selector entry. */
export function hostInScope(
  scope: OperatorScope,
  host: { agentsn: string; tags: readonly string[]; region: number; regionName: string | null },
): boolean {
  if (!hasHostSelector(scope)) return true;
  if (scope.agentsn?.includes(host.agentsn)) return true;
  if (scope.regions?.some((r) => r === String(host.region) || (host.regionName !== null && r === host.regionName)))
    return true;
  return Boolean(scope.tags?.some((t) => host.tags.includes(t)));
}

/** Shell control characters: what follows an allowed prefix must not start another command. */
const SHELL_CONTROL = /[;&|`$<>(){}\n\r\\]/;

function ruleAllows(rule: CommandRule, command: string): boolean {
  if (rule.kind === 'exact') return command === rule.value;
  if (rule.kind === 'prefix')
    return command.startsWith(rule.value) && !SHELL_CONTROL.test(command.slice(rule.value.length));
  // Anchored: the whole command must match.
  return new RegExp(`^(?:${rule.value})$`).test(command);
}

export function commandAllowed(scope: OperatorScope, command: string): boolean {
  if (!scope.commands) return true;
  return scope.commands.some((r) => ruleAllows(r, command));
}

export function userAllowed(scope: OperatorScope, user: string): boolean {
  return !scope.users || scope.users.includes(user);
}

/**
 * A run-as group (sync.bash `group`; absent = the user's primary group, always allowed). With a
 * `groups` list: one of it. Without, a scope that lists users allows no explicit group (the server
 * cannot know a host's primary groups, so `{user: nobody, group: disk}` is not "nobody").
 */
export function groupAllowed(scope: OperatorScope, group: string | undefined): boolean {
  if (group === undefined) return true;
  if (scope.groups) return scope.groups.includes(group);
  return !scope.users;
}

/**
 * What a task (POST /task) would run beyond its `ACTION NAME` that the scope does not allow:
 * with a commands or sources list, an install/upgrade `url` must lie under `sources` (normalised;
 * `command://` only when listed), and `envs` and `config` jobs must be named in `allow`. Each
 * entry names what was outside; empty when the scope has no such limits (admin tokens as before).
 */
export function taskPartsOutside(scope: OperatorScope, command: string, parameters: Record<string, unknown>): string[] {
  if (!scope.commands && !scope.sources) return [];
  const out: string[] = [];
  const allowed = (x: TaskExtra) => scope.allow?.includes(x) ?? false;
  const url = parameters.url;
  if ((command === 'install' || command === 'upgrade') && typeof url === 'string') {
    const prefixes = (scope.sources ?? []).map(parseSourcePrefix).filter((p): p is SourcePrefix => p !== undefined);
    if (!sourceAllowed(prefixes, url)) {
      const n = normalizeSourceUrl(url);
      const shown = JSON.stringify(url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@').slice(0, 200));
      out.push(
        `source ${shown} ${n.ok ? `(allowed sources: ${scope.sources?.join(' ') ?? 'none; only uploaded packages'})` : n.reason}`,
      );
    }
  }
  const envs = parameters.envs;
  if (
    envs !== undefined &&
    envs !== null &&
    typeof envs === 'object' &&
    Object.keys(envs).length > 0 &&
    !allowed('envs')
  ) {
    out.push(`envs (${Object.keys(envs).slice(0, 20).join(', ')}) not allowed (scope allow: envs)`);
  }
  if (command === 'config' && !allowed('config')) out.push('config job not allowed (scope allow: config)');
  return out;
}

/** The scope as one short line for `aspire token list`. */
export function describeScope(scope: OperatorScope): string {
  const parts: string[] = [];
  if (scope.tags) parts.push(`tags=${scope.tags.join(',')}`);
  if (scope.regions) parts.push(`regions=${scope.regions.join(',')}`);
  if (scope.agentsn) parts.push(`agentsn=${scope.agentsn.join(',')}`);
  if (scope.commands) parts.push(`commands=${scope.commands.map((c) => `${c.kind}:${c.value}`).join(' | ')}`);
  if (scope.users) parts.push(`users=${scope.users.join(',')}`);
  if (scope.groups) parts.push(`groups=${scope.groups.join(',')}`);
  if (scope.sources) parts.push(`sources=${scope.sources.join(',')}`);
  if (scope.allow) parts.push(`allow=${scope.allow.join(',')}`);
  if (scope.cidrs) parts.push(`cidrs=${scope.cidrs.join(',')}`);
  return parts.length ? parts.join(' ') : 'no limits';
}
