/**
 * A policy document checked once at the edge (PUT .../policy) into a typed value: the wire
 * schema (packages/protocol/src/policy-wire.ts), each name once per list, and every periodic
 * task as the crontab line the BasicAgent will run, parsed with the agent's own grammar
 * (@aspire/agent-core/cron). Whether each named package is registered is the route's check
 * (it needs the store). Every problem is listed, not only the first.
 */
import { parseTaskLine } from '@aspire/agent-core/cron';
import {
  BOOT_AGENT_NAME,
  type PolicyDocument,
  PolicyPeriodic,
  type PolicyRemoval,
  PolicyRemoval as RemovalSchema,
  PolicySubagent,
  policyDocument,
  validator,
} from '@aspire/protocol';
import { badRequest } from './refusal.ts';

const subagentEntry = validator(PolicySubagent);
const periodicEntry = validator(PolicyPeriodic);
const removalEntry = validator(RemovalSchema);

export const isRemoval = (e: object): e is PolicyRemoval => (e as { remove?: unknown }).remove === true;

/** A crontab line may not hold a line break or NUL: it would write a second line into the section. */
const LINE_BREAK = /[\r\n\0]/;

/** The problem with one periodic task as a crontab line, or undefined when the agent will take it. */
export function crontabProblem(e: PolicyPeriodic): string | undefined {
  for (const [field, v] of [
    ['user', e.user],
    ['schedule', e.schedule],
    ['command', e.command],
  ] as const)
    if (LINE_BREAK.test(v)) return `${field} holds a line break`;
  if (/\s/.test(e.user)) return 'user holds a space';
  const line = `${e.schedule.trim()} ${e.user} ${e.command}`;
  const p = parseTaskLine(line);
  if (!p.ok) return p.error;
  // The grammar tells five from six schedule fields by the token after them: a schedule with the
  // wrong number of fields would shift the user into the command (or the other way round).
  if (p.user !== e.user || p.command !== e.command.trim())
    return `schedule ${JSON.stringify(e.schedule)} is not 5 or 6 cron fields (or a macro): the line reads as user ${JSON.stringify(p.user)}`;
  return undefined;
}

function entryErrors(list: 'subagents' | 'periodic', i: number, e: unknown): string[] {
  const at = `${list}[${i}]`;
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return [`${at}: not an object`];
  const v = isRemoval(e) ? removalEntry : list === 'subagents' ? subagentEntry : periodicEntry;
  const r = v.validate(e);
  return r.ok ? [] : r.errors.map((m) => `${at}${m.startsWith('/') ? m : `: ${m}`}`);
}

/** The document, or a PolicyRefusal listing every problem. */
export function checkPolicyDocument(body: unknown): PolicyDocument {
  const top = policyDocument.validate(body);
  if (!top.ok) {
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      throw badRequest('policy_invalid', 'a policy is an object {subagents?: [...], periodic?: [...]}');
    const b = body as Record<string, unknown>;
    const extra = Object.keys(b).filter((k) => k !== 'subagents' && k !== 'periodic');
    const errors = extra.map((k) => `unknown key ${JSON.stringify(k)} (a policy has subagents and periodic)`);
    for (const list of ['subagents', 'periodic'] as const) {
      const v = b[list];
      if (v === undefined) continue;
      if (!Array.isArray(v)) errors.push(`${list}: must be an array`);
      else for (const [i, e] of v.entries()) errors.push(...entryErrors(list, i, e));
    }
    throw badRequest('policy_invalid', (errors.length > 0 ? errors : top.errors).slice(0, 20).join('; '));
  }
  const doc = top.value;
  for (const list of ['subagents', 'periodic'] as const) {
    const seen = new Set<string>();
    for (const e of doc[list] ?? []) {
      if (seen.has(e.name))
        throw badRequest('policy_duplicate_name', `${list}: ${JSON.stringify(e.name)} is listed twice at this level`);
      seen.add(e.name);
    }
  }
  // The BootAgent upgrades itself through an upgrade job (docs/lifecycle.md "BootAgent
  // self-upgrade"); as a sub-agent entry its own agents would try to supervise it.
  if ((doc.subagents ?? []).some((e) => e.name === BOOT_AGENT_NAME))
    throw badRequest(
      'policy_invalid',
      `${BOOT_AGENT_NAME} is not a sub-agent: it upgrades itself through an upgrade job, not a policy`,
    );
  const bad: string[] = [];
  for (const e of doc.periodic ?? []) {
    if (isRemoval(e)) continue;
    const problem = crontabProblem(e);
    if (problem) bad.push(`periodic ${JSON.stringify(e.name)}: ${problem}`);
  }
  if (bad.length > 0) throw badRequest('policy_bad_crontab', bad.join('; '));
  return doc;
}
