/**
 * What a status push is decided by, read in one statement: the host row's pushed fields and
 * credential, and what the task queue holds for the host (a READY subtask, the earliest DELAYED
 * one, a revoked RESERVED one, the open tag tasks it is not in). Nothing in it depends on the
 * push's time, so the read can run at the push's credential check (PgHosts.credentialHash,
 * kept in a ReadAhead for the ingestion a moment later) and be judged against the push after.
 */
import { parseTags } from '../../tasks/state-machine.ts';
import type { StatusInput } from '../status-ingestion.ts';
import type { PgDb } from './db.ts';

export interface HostSnapshot {
  credential_hash: string;
  hostname: string;
  ipaddr: string | null;
  step: number;
  os: string | null;
  arch: string | null;
  curvers: string | null;
  agents: string;
  reported_tags: string;
  status: string;
  ready: boolean;
  /** ready_at of the host's earliest DELAYED subtask (null: none). */
  delayed_at: number | null;
  revoked: boolean;
  /** Running tag tasks the host has no subtask in (null: none); their windows are judged in JS. */
  unjoined: { tags: string; from: number; to: number }[] | null;
}

export const HOST_SNAPSHOT = `SELECT h.credential_hash, h.hostname, h.ipaddr, h.step, h.os, h.arch, h.curvers,
    h.agents, h.reported_tags, h.status,
    EXISTS (SELECT 1 FROM subtasks s WHERE s.agentsn = h.agentsn AND s.state = 'READY') AS ready,
    (SELECT MIN(s.ready_at) FROM subtasks s WHERE s.agentsn = h.agentsn AND s.state = 'DELAYED') AS delayed_at,
    EXISTS (SELECT 1 FROM subtasks s WHERE s.agentsn = h.agentsn
      AND s.state = 'RESERVED' AND s.revoke_requested_at IS NOT NULL) AS revoked,
    (SELECT json_agg(json_build_object('tags', t.tags, 'from', t.window_start, 'to', t.window_end))
       FROM tasks t WHERE t.selector = 'tags' AND t.status = 'RUNNING'
       AND NOT EXISTS (SELECT 1 FROM subtasks s WHERE s.taskid = t.id AND s.agentsn = h.agentsn)) AS unjoined
  FROM hosts h WHERE h.agentsn = ?`;

export function readHostSnapshot(sql: PgDb, agentsn: string): Promise<HostSnapshot | undefined> {
  return sql.get<HostSnapshot>(sql.prepared(HOST_SNAPSHOT), agentsn);
}

/** Every field the push would write, but last_seen and uptime, is stored already; online. */
export function samePush(s: HostSnapshot, input: StatusInput, reportedTags: string, agentsJson: string): boolean {
  return (
    s.status === 'online' &&
    s.hostname === input.hostname &&
    s.ipaddr === input.ip &&
    s.step === input.step &&
    s.os === input.os &&
    s.arch === input.arch &&
    s.curvers === input.version &&
    s.reported_tags === reportedTags &&
    s.agents === agentsJson
  );
}

/** A subtask to reserve now (READY, or DELAYED and due). */
export function hasDue(s: HostSnapshot, now: number): boolean {
  return s.ready || (s.delayed_at !== null && s.delayed_at <= now);
}

/** Selectors of the tag tasks open at `now` the host is not in yet. */
export function openUnjoined(s: HostSnapshot, now: number): string[][] {
  return (s.unjoined ?? []).filter((t) => t.from <= now && t.to >= now).map((t) => parseTags(t.tags));
}
