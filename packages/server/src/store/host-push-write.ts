/**
 * The host row a status push writes, the same statement on both engines (SQLite and PostgreSQL,
 * `?` placeholders: the PostgreSQL part numbers them when it prepares): the pushed fields, the
 * version history, last_seen, and `online` (gmt_modify moves only when the status changes).
 */
import type { StatusInput } from './status-ingestion.ts';

export const HOST_PUSH_UPDATE = `UPDATE hosts SET hostname = ?, ipaddr = ?, step = ?, os = ?, arch = ?,
         prevers = CASE WHEN curvers IS NOT NULL AND curvers != ? THEN curvers ELSE prevers END,
         curvers = ?, uptime = ?, agents = ?, reported_tags = ?, last_seen = ?,
         gmt_modify = CASE WHEN status != 'online' THEN ? ELSE gmt_modify END, status = 'online'
       WHERE agentsn = ?`;

/** The parameters of HOST_PUSH_UPDATE, in its order. */
export function hostPushParams(
  input: StatusInput,
  hostname: string,
  reportedTags: string,
  agentsJson: string,
): (string | number)[] {
  return [
    hostname,
    input.ip,
    input.step,
    input.os,
    input.arch,
    input.version,
    input.version,
    input.uptime,
    agentsJson,
    reportedTags,
    input.now,
    input.now,
    input.agentsn,
  ];
}
