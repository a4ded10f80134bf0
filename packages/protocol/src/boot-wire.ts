/**
 * BootAgent <-> server wire format (design.md §3, extended per design.md with events[], os, arch,
 * tags and the per-host credential).
 */
import { Type, type Static } from '@sinclair/typebox';
import { AGENT_STATUS_WORDS, EVENT_KINDS } from './status-words.ts';
import { validator } from './validate.ts';

const Str = (max = 256) => Type.String({ maxLength: max });

/** The server's signing keys as announced in register and status replies (signing.ts). */
const SigningKeyFields = {
  signingKey: Type.Optional(Type.String({ maxLength: 512 })),
  nextSigningKey: Type.Optional(Type.String({ maxLength: 512 })),
  nextSigningKeySig: Type.Optional(Type.String({ maxLength: 512 })),
};

/** The server's Ed25519 signature on a job or command frame (signing.ts): target, expiry, key id, signature. */
export const SignatureFieldsSchema = {
  agentsn: Type.Optional(Type.String({ maxLength: 255 })),
  expires: Type.Optional(Type.Number()),
  kid: Type.Optional(Type.String({ maxLength: 64 })),
  sig: Type.Optional(Type.String({ maxLength: 256 })),
};

export const RegisterRequest = Type.Object(
  {
    hostname: Type.String({ minLength: 1, maxLength: 255 }),
    agentsn: Type.String({ minLength: 1, maxLength: 64 }),
    version: Type.Optional(Str(64)),
    os: Type.Optional(Str(64)),
    arch: Type.Optional(Str(16)),
    /** PEM PKCS#10 request of the host's key: the reply carries a client certificate for it (docs/security.md). */
    csr: Type.Optional(Type.String({ minLength: 1, maxLength: 16_384 })),
  },
  { additionalProperties: true },
);
export type RegisterRequest = Static<typeof RegisterRequest>;

export const RegisterReply = Type.Object(
  {
    status: Type.Integer(),
    agentsn: Type.String({ minLength: 1, maxLength: 64 }),
    tags: Type.Optional(Type.String({ maxLength: 4096 })),
    /** Per-host credential, sent back on every status push. */
    credential: Type.Optional(Type.String({ maxLength: 256 })),
    /** PEM client certificate issued for the request's `csr`, bound to `agentsn`. */
    cert: Type.Optional(Type.String({ maxLength: 16_384 })),
    /** PEM certificate of the host CA that issued `cert` (what the hub verifies client certificates against). */
    caCert: Type.Optional(Type.String({ maxLength: 16_384 })),
    message: Type.Optional(Type.String()),
    ...SigningKeyFields,
  },
  { additionalProperties: true },
);
export type RegisterReply = Static<typeof RegisterReply>;

export const AgentReport = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    version: Str(64),
    status: Type.Union(AGENT_STATUS_WORDS.map((w) => Type.Literal(w))),
    uptime: Type.Integer({ minimum: 0 }),
    prevers: Type.Optional(Str(64)),
    pid: Type.Optional(Type.Integer()),
    strikes: Type.Optional(Type.Integer({ minimum: 0 })),
    /** The resource limits the agent runs under (a job's `limits`), when it has any. */
    limits: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: true },
);
export type AgentReport = Static<typeof AgentReport>;

export const JobResult = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64 }),
    errcode: Type.Integer({ minimum: 0, maximum: 65535 }),
    message: Type.String({ maxLength: 4096 }),
  },
  { additionalProperties: true },
);
export type JobResult = Static<typeof JobResult>;

export const AgentEvent = Type.Object(
  {
    /** Per-host monotonic id; (agentsn, localid, occurred) identifies the event. */
    localid: Type.Integer({ minimum: 1 }),
    /** Unix seconds. */
    occurred: Type.Integer({ minimum: 0 }),
    kind: Type.Union(EVENT_KINDS.map((k) => Type.Literal(k))),
    agent: Type.Optional(Str(64)),
    message: Type.String({ maxLength: 4096 }),
    data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: true },
);
export type AgentEvent = Static<typeof AgentEvent>;

/**
 * The BootAgent's report on itself (optional in a status push; the server aggregates it for
 * /metrics): resident memory, CPU time used since it started, and its queues.
 */
export const SelfReport = Type.Object(
  {
    /** Resident set size, bytes. */
    rssBytes: Type.Integer({ minimum: 0 }),
    /** User + system CPU time since the process started, seconds. */
    cpuSeconds: Type.Number({ minimum: 0 }),
    /** Jobs received and not yet run (queued plus the one running). */
    jobQueue: Type.Integer({ minimum: 0 }),
    /** Job results not yet acknowledged by a server. */
    resultQueue: Type.Integer({ minimum: 0 }),
    /** Events waiting to be pushed. */
    eventQueue: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: true },
);
export type SelfReport = Static<typeof SelfReport>;

export const StatusRequest = Type.Object(
  {
    hostname: Type.String({ minLength: 1, maxLength: 255 }),
    agentsn: Type.String({ minLength: 1, maxLength: 64 }),
    version: Str(64),
    uptime: Type.Integer({ minimum: 0 }),
    timestamp: Type.Integer({ minimum: 0 }),
    step: Type.Integer({ minimum: 1 }),
    agents: Type.Array(AgentReport, { maxItems: 256 }),
    jobs: Type.Array(JobResult, { maxItems: 4096 }),
    events: Type.Array(AgentEvent, { maxItems: 4096 }),
    /** Events dropped from the bounded queue since the last acknowledged push. */
    eventsDropped: Type.Optional(Type.Integer({ minimum: 0 })),
    /** OS type as packages name it ("linux"). */
    os: Str(64),
    /** Kernel release (`uname -r`), an extension beside `os`. */
    kernel: Type.Optional(Str(128)),
    arch: Str(16),
    tags: Type.Optional(Type.String({ maxLength: 4096 })),
    /** Certificate renewal: PEM PKCS#10 request of the host's key; the reply carries `cert` and `caCert`. */
    csr: Type.Optional(Type.String({ minLength: 1, maxLength: 16_384 })),
    /** The BootAgent's own resource use and queue lengths (SelfReport). */
    self: Type.Optional(SelfReport),
  },
  { additionalProperties: true },
);
export type StatusRequest = Static<typeof StatusRequest>;

/** Sub-agent resource limits (design.md §3 `limits`, design.md §3 "Supervision" adds `hits`). */
export const Limits = Type.Object(
  {
    cpu: Type.Optional(Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?%$' })),
    CPU: Type.Optional(Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?%$' })),
    memory: Type.Optional(Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?[KkMmGg]?$' })),
    hits: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
export type Limits = Static<typeof Limits>;

/**
 * A job in a status reply. Deliberately loose: an unknown action must still reach the agent so
 * it can answer "unsupported action" instead of the whole reply being rejected. Per-action
 * checks are in `checkJob`.
 */
export const Job = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64 }),
    action: Type.String({ minLength: 1, maxLength: 32 }),
    ...SignatureFieldsSchema,
  },
  { additionalProperties: true },
);
export type Job = Static<typeof Job>;

/**
 * One entry of a status reply's `revoke` list: the id of a job the server revoked (its subtask
 * was RESERVED for this host), signed with purpose `revoke` for this host like a job. The
 * BootAgent aborts the job if it runs, drops it if queued, and answers an id it never got
 * JOB_REVOKED so a late delivery cannot run it.
 */
export const RevokeNotice = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64 }),
    ...SignatureFieldsSchema,
  },
  { additionalProperties: true },
);
export type RevokeNotice = Static<typeof RevokeNotice>;

export const StatusReply = Type.Object(
  {
    status: Type.Integer(),
    jobs: Type.Optional(Type.Array(Job, { maxItems: 1024 })),
    /** Jobs the server revoked while RESERVED for this host (RevokeNotice, signed). */
    revoke: Type.Optional(Type.Array(RevokeNotice, { maxItems: 1024 })),
    /** A renewed client certificate, when the push carried a `csr`. */
    cert: Type.Optional(Type.String({ maxLength: 16_384 })),
    caCert: Type.Optional(Type.String({ maxLength: 16_384 })),
    message: Type.Optional(Type.String()),
    ...SigningKeyFields,
  },
  { additionalProperties: true },
);
export type StatusReply = Static<typeof StatusReply>;

export const SubAgentJob = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64 }),
    action: Type.Union(['install', 'upgrade', 'uninstall', 'restart', 'stop', 'start'].map((a) => Type.Literal(a))),
    name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    version: Type.Optional(Type.String({ maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._+~-]*$' })),
    url: Type.Optional(Type.String({ maxLength: 2048 })),
    checksum: Type.Optional(Type.String({ pattern: '^SHA256:[0-9a-fA-F]{64}$' })),
    envs: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String())),
    limits: Type.Optional(Limits),
  },
  { additionalProperties: true },
);
export type SubAgentJob = Static<typeof SubAgentJob>;

export const ConfigJob = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64 }),
    action: Type.Literal('config'),
    svrlist: Type.Optional(Type.String({ maxLength: 4096 })),
    step: Type.Optional(Type.Integer({ minimum: 1 })),
    tags: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: true },
);
export type ConfigJob = Static<typeof ConfigJob>;

export const registerRequest = validator(RegisterRequest);
export const registerReply = validator(RegisterReply);
export const statusRequest = validator(StatusRequest);
export const statusReply = validator(StatusReply);
export const subAgentJob = validator(SubAgentJob);
export const configJob = validator(ConfigJob);
export const agentEvent = validator(AgentEvent);

/**
 * Parse `svr1:port,svr2` (design.md §3's server-list syntax). Empty entries (a trailing comma, as
 * in the design's example) are skipped; duplicates are kept on purpose (the design: no de-duplication).
 */
export function parseServerList(text: string, defaultPort = 8180): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^https?:\/\//.test(s) ? s : /:\d+$/.test(s) || s.startsWith('[') ? s : `${s}:${defaultPort}`));
}

/**
 * A status reply checked only as far as its envelope. The BootAgent then checks each job on its
 * own (`job`, `configJob`, `subAgentJob`), so one malformed job is answered JOB_INVALID (or
 * logged, when it has no id to answer under) instead of the whole reply being refused and its
 * good jobs lost.
 */
export const StatusReplyEnvelope = Type.Object(
  {
    status: Type.Optional(Type.Integer()),
    jobs: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 1024 })),
    /** Checked one by one (revokeNotice) like jobs: one bad entry does not lose the others. */
    revoke: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 1024 })),
    /** A renewed client certificate, when the push carried a `csr`. */
    cert: Type.Optional(Type.String({ maxLength: 16_384 })),
    caCert: Type.Optional(Type.String({ maxLength: 16_384 })),
    message: Type.Optional(Type.String()),
    ...SigningKeyFields,
  },
  { additionalProperties: true },
);
export type StatusReplyEnvelope = Static<typeof StatusReplyEnvelope>;
export const statusReplyEnvelope = validator(StatusReplyEnvelope);
export const job = validator(Job);
export const revokeNotice = validator(RevokeNotice);
