/**
 * Desired state (docs/lifecycle.md "Desired state"): the policy document an operator puts at the
 * root, a tree node or a host, and the effective policy the server computes for a host and
 * hands to its agents. Shared by the server (validation, hash) and the agents (the answer of
 * GET /api/v1/agent/policy). The hash is in policy-hash.ts (Node's crypto; this file stays
 * free of Node so the console's type view can include it).
 */
import { type Static, Type } from '@sinclair/typebox';
import { Limits } from './boot-wire.ts';
import { validator } from './validate.ts';

/** A sub-agent name as jobs carry it. */
const AgentName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
const Version = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._+~-]*$' });
/** A periodic task name (as the BasicAgent's task.add names one). */
const TaskName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });

/**
 * The run fields of an install job beside name, version and limits: the source and the
 * environment. Without `url` the package is the registered one of that name and version (the
 * server fills `url` and `checksum` for the host in the agent's answer).
 */
export const PolicyRun = Type.Object(
  {
    url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    checksum: Type.Optional(Type.String({ pattern: '^SHA256:[0-9a-fA-F]{64}$' })),
    envs: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String({ maxLength: 4096 })),
    ),
  },
  { additionalProperties: false },
);
export type PolicyRun = Static<typeof PolicyRun>;

export const PolicySubagent = Type.Object(
  { name: AgentName, version: Version, run: Type.Optional(PolicyRun), limits: Type.Optional(Limits) },
  { additionalProperties: false },
);
export type PolicySubagent = Static<typeof PolicySubagent>;

/** `schedule` is the schedule part of a crontab line (six fields with seconds, five, or a macro). */
export const PolicyPeriodic = Type.Object(
  {
    name: TaskName,
    user: Type.String({ minLength: 1, maxLength: 64 }),
    schedule: Type.String({ minLength: 1, maxLength: 256 }),
    command: Type.String({ minLength: 1, maxLength: 4096 }),
  },
  { additionalProperties: false },
);
export type PolicyPeriodic = Static<typeof PolicyPeriodic>;

/** Removes the entry of that name inherited from a higher level. */
export const PolicyRemoval = Type.Object(
  { name: TaskName, remove: Type.Literal(true) },
  { additionalProperties: false },
);
export type PolicyRemoval = Static<typeof PolicyRemoval>;

/** What an operator puts at one level (PUT .../policy); both lists optional. */
export const PolicyDocument = Type.Object(
  {
    subagents: Type.Optional(Type.Array(Type.Union([PolicyRemoval, PolicySubagent]), { maxItems: 256 })),
    periodic: Type.Optional(Type.Array(Type.Union([PolicyRemoval, PolicyPeriodic]), { maxItems: 1024 })),
  },
  { additionalProperties: false },
);
export type PolicyDocument = Static<typeof PolicyDocument>;
export const policyDocument = validator(PolicyDocument);

/** An entry of the effective policy: `run` and `limits` always present (maybe empty). */
export interface EffectiveSubagent {
  name: string;
  version: string;
  run: PolicyRun;
  limits: Limits;
}

/** The merged policy of one host; its canonical JSON is what the hash covers. */
export interface EffectivePolicy {
  subagents: EffectiveSubagent[];
  periodic: PolicyPeriodic[];
}

/** Where an entry of the effective policy comes from: `root`, `node:<id>` or `host`. */
export type PolicyOrigin = 'root' | 'host' | `node:${number}`;

/**
 * The answer of GET /api/v1/agent/policy (before its signature fields): the effective policy,
 * its hash and each entry's origin. `run.url`/`run.checksum` of a registered package are filled
 * for the asking host; `unavailable` says why an entry cannot be installed there (no build of
 * the package for the host's os/arch), and the agent then leaves that sub-agent as it is.
 */
export const PolicyAnswer = Type.Object(
  {
    hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    subagents: Type.Array(
      Type.Object(
        {
          name: AgentName,
          version: Version,
          run: Type.Object(
            {
              url: Type.Optional(Type.String({ maxLength: 4096 })),
              checksum: Type.Optional(Type.String()),
              envs: Type.Optional(Type.Record(Type.String(), Type.String())),
            },
            { additionalProperties: true },
          ),
          limits: Type.Record(Type.String(), Type.Unknown()),
          unavailable: Type.Optional(Type.String()),
        },
        { additionalProperties: true },
      ),
    ),
    periodic: Type.Array(PolicyPeriodic),
    origin: Type.Record(Type.String(), Type.String()),
  },
  { additionalProperties: true },
);
export type PolicyAnswer = Static<typeof PolicyAnswer>;
export const policyAnswer = validator(PolicyAnswer);
