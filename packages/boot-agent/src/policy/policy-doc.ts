/**
 * The desired-state policy as the BootAgent takes it in (docs/lifecycle.md "Desired state"):
 * the hint in every status reply (`policy: {hash}`) and the full document of
 * `GET /api/v1/agent/policy`. Checked once here into typed values; what the agent does not use
 * (`origin`, the envelope) is let through untouched so the signature still covers it.
 */
import { Limits, type Validator, validator } from '@aspire/protocol';
import { type ManagedTask, isOneLine } from '@aspire/agent-core';
import { Type, type Static } from '@sinclair/typebox';

/** Where the agent pulls its full policy from (authenticated like the status push). */
export const POLICY_PATH = '/api/v1/agent/policy';

const Hash = Type.String({ pattern: '^[0-9a-f]{64}$' });

export const PolicyHint = Type.Object({ hash: Hash }, { additionalProperties: true });
export const policyHint: Validator<Static<typeof PolicyHint>> = validator(PolicyHint);

/** The pull's reply before the signature check: any JSON object (checked field by field after). */
export const policyReply = validator(Type.Record(Type.String(), Type.Unknown()));

const NAME = '^[A-Za-z0-9][A-Za-z0-9._-]*$';

/** How the package is fetched and run: the fields of an install job (url and checksum resolved by the server). */
const Run = Type.Object(
  {
    url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    checksum: Type.Optional(Type.String({ pattern: '^SHA256:[0-9a-fA-F]{64}$' })),
    envs: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String())),
  },
  { additionalProperties: true },
);

const DesiredSubAgent = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, pattern: NAME }),
    version: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._+~-]*$' }),
    run: Type.Optional(Run),
    limits: Type.Optional(Limits),
    /** Accepted beside `run` too: some servers resolve the package at the entry's top level. */
    url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    checksum: Type.Optional(Type.String({ pattern: '^SHA256:[0-9a-fA-F]{64}$' })),
    /** Why the server cannot offer the package to this host (no build for its os/arch): left as it is. */
    unavailable: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

const Periodic = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128, pattern: '^[^\\r\\n\\0]+$' }),
    user: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._][A-Za-z0-9._-]*\\$?$' }),
    schedule: Type.String({ minLength: 1, maxLength: 256 }),
    command: Type.String({ minLength: 1, maxLength: 4096 }),
  },
  { additionalProperties: true },
);

export const PolicyDoc = Type.Object(
  {
    hash: Hash,
    subagents: Type.Array(DesiredSubAgent, { maxItems: 256 }),
    periodic: Type.Array(Periodic, { maxItems: 1024 }),
  },
  { additionalProperties: true },
);
const policyDoc = validator(PolicyDoc);

/** One sub-agent the host must run. */
export interface DesiredAgent {
  name: string;
  version: string;
  url: string;
  checksum?: string;
  envs?: Record<string, string>;
  limits?: Limits;
}

export interface DesiredPolicy {
  hash: string;
  subagents: DesiredAgent[];
  /** Named by the policy but not installable here (`unavailable`, no url): left as they are. */
  leave: { name: string; why: string }[];
  periodic: ManagedTask[];
}

export type DocCheck = { ok: true; policy: DesiredPolicy } | { ok: false; error: string };

/** Check a (verified) document into the typed policy; every problem named. */
export function checkPolicyDoc(raw: unknown): DocCheck {
  const v = policyDoc.validate(raw);
  if (!v.ok) return { ok: false, error: `policy document invalid: ${v.errors.join('; ')}` };
  const problems: string[] = [];
  const seen = new Set<string>();
  const subagents: DesiredAgent[] = [];
  const leave: DesiredPolicy['leave'] = [];
  for (const e of v.value.subagents) {
    if (seen.has(e.name)) problems.push(`subagents: ${e.name} listed twice`);
    seen.add(e.name);
    const url = e.run?.url ?? e.url;
    const checksum = e.run?.checksum ?? e.checksum;
    if (e.unavailable !== undefined || !url) {
      leave.push({ name: e.name, why: e.unavailable ?? 'no package url for this host' });
      continue;
    }
    subagents.push({
      name: e.name,
      version: e.version,
      url,
      ...(checksum ? { checksum } : {}),
      ...(e.run?.envs ? { envs: e.run.envs } : {}),
      ...(e.limits && Object.keys(e.limits).length > 0 ? { limits: e.limits } : {}),
    });
  }
  const names = new Set<string>();
  const periodic: ManagedTask[] = [];
  for (const p of v.value.periodic) {
    if (names.has(p.name)) problems.push(`periodic: ${p.name} listed twice`);
    names.add(p.name);
    // A line break would let a policy value write host lines outside the managed section.
    if (![p.schedule, p.command].every(isOneLine)) problems.push(`periodic.${p.name}: must be one line`);
    else periodic.push({ name: p.name.trim(), user: p.user, schedule: p.schedule, command: p.command });
  }
  if (problems.length > 0) return { ok: false, error: `policy document refused: ${problems.join('; ')}` };
  return { ok: true, policy: { hash: v.value.hash, subagents, leave, periodic } };
}
