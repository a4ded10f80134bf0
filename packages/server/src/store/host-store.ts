/**
 * The hosts part of the store: registration and its proof, the host identity the hub checks,
 * the offline sweep and the operator's host reads and changes. A status push is the
 * StatusIngestion part (status-ingestion.ts).
 */
import type { AgentReport } from '@aspire/protocol';
import { Type, type Static } from '@sinclair/typebox';
import type { Mutation, Page, Paging } from './common.ts';
import { Num, NullableNum, NullableStr, NullableTime, Row, Str, Time } from './row-schema.ts';

/** A sub-agent as the host last reported it (the wire's AgentReport, stored as JSON). */
export const AgentReportSchema = Type.Object(
  {
    name: Type.Optional(Type.String()),
    version: Type.Optional(Type.String()),
    status: Type.Optional(Type.String({ description: 'stoped | running | fatal | killed' })),
    uptime: Type.Optional(Num('seconds')),
    prevers: Type.Optional(Type.String()),
    pid: Type.Optional(Num()),
    strikes: Type.Optional(Num()),
  },
  { additionalProperties: true, description: 'a sub-agent as the host last reported it' },
);

export const HostRowSchema = Row(
  {
    id: Num(),
    agentsn: Str(),
    hostname: Str(),
    ipaddr: NullableStr('address the last request came from'),
    region: Num(),
    region_name: NullableStr(),
    status: Str('registered | online | offline | deleted'),
    step: Num('seconds between status pushes'),
    os: NullableStr(),
    arch: NullableStr(),
    curvers: NullableStr('BootAgent version now'),
    prevers: NullableStr('BootAgent version before the last change'),
    uptime: NullableNum('host uptime, seconds'),
    agents: Type.Unsafe<AgentReport[]>(Type.Array(AgentReportSchema)),
    reported_tags: Str('k=v,... as the host reported them'),
    tags: Type.Array(Type.String(), { description: 'k=v tags bound on the server' }),
    last_seen: NullableTime('last status push'),
    /** Summed over every push that said so. */
    events_dropped: Num("events the host's BootAgent dropped from its full queue, in total"),
    events_dropped_at: NullableTime('last push that reported dropped events'),
    gmt_create: Time('registered'),
    gmt_modify: Time('last status change'),
  },
  'a host (BootAgent)',
);
export type HostRow = Static<typeof HostRowSchema>;

export interface HostFilter {
  status?: string | undefined;
  region?: number | undefined;
  tag?: string | undefined;
  os?: string | undefined;
  arch?: string | undefined;
  version?: string | undefined;
  hostname?: string | undefined;
  /** Case-insensitive prefix of the hostname or the AgentSN (the console's search box). */
  search?: string | undefined;
}

export interface RegisterInput {
  agentsn: string;
  hostname: string;
  ip: string;
  version?: string | undefined;
  os?: string | undefined;
  arch?: string | undefined;
  /** Hash of the credential the request presented, if any. */
  presentedHash?: string | undefined;
  /** Hash of a freshly generated credential to store. */
  newHash: string;
  /** A fresh AgentSN to use when the asked one belongs to another host. */
  freshAgentsn: string;
  now: number;
}

export interface RegisterOutcome {
  agentsn: string;
  conflict: boolean;
  tags: string;
  /**
   * Set when nothing was registered: `takeover` = the agentsn belongs to a host with the same
   * hostname and the caller did not prove it is that host (issue 16 item 6); `deleted` = the
   * host was deleted by an operator (a reset brings it back).
   */
  refused?: 'takeover' | 'deleted';
}

/** What the hub checks at init: the host a certificate names, and whether it still exists. */
export interface HostIdentityRow {
  hostname: string;
  status: string;
  /**
   * SHA-256 (hex) of the client certificate issued last, and of the one before it (a renewal's
   * overlap). null: none recorded (any valid certificate for the agentsn); '': none valid (reset).
   */
  cert_sha256: string | null;
  prev_cert_sha256: string | null;
}

/** A subtask of one host joined with its task (console host page: tasks that touched it). */
export const HostSubtaskRowSchema = Row(
  {
    taskid: Num(),
    command: Str(),
    task_status: Str(),
    subtask: Str(),
    state: Str(),
    errcode: NullableNum(),
    message: NullableStr(),
    gmt_modify: Time('last change'),
  },
  "one host's subtask with its task's command and status",
);
export type HostSubtaskRow = Static<typeof HostSubtaskRowSchema>;

export interface HostStore {
  register(input: RegisterInput): Promise<RegisterOutcome>;
  /** The stored credential hash of a host, or undefined when the AgentSN is unknown. */
  credentialHash(agentsn: string): Promise<string | undefined>;
  /** Hostname and status of a host (undefined when the AgentSN is unknown). */
  hostIdentity(agentsn: string): Promise<HostIdentityRow | undefined>;
  /**
   * Operator reset of a host's registration: its credential is cleared (and a deleted host is
   * registered again), so the next /agent/register for this agentsn is accepted without proof.
   */
  resetHost(agentsn: string, now: number): Promise<Mutation<{ reset: number }>>;
  /**
   * Record the client certificate just issued to a host (SHA-256 of its DER, hex). `renewal`:
   * the current one becomes the previous (both accepted until the next issue); else (a
   * registration) the new one is the only one accepted.
   */
  recordHostCertificate(agentsn: string, sha256: string, renewal: boolean): Promise<void>;
  markOffline(now: number, missedSteps: number): Promise<number>;

  getHost(agentsn: string): Promise<HostRow | undefined>;
  listHosts(filter: HostFilter, paging: Paging): Promise<Page<HostRow>>;
  setHostRegion(agentsns: string[], region: number, now: number): Promise<Mutation<{ updated: number }>>;
  deleteHost(agentsn: string, now: number): Promise<Mutation<{ deleted: number }>>;
  /** The newest subtasks of one host with their task's command and status (console host page; optional for other stores). */
  hostSubtasks?(agentsn: string, limit: number): Promise<HostSubtaskRow[]>;
}
