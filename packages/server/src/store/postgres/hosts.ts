/**
 * The hosts part of the PostgreSQL store (HostStore): registration and its proof, the identity
 * the hub checks, the offline sweep and the operator's host reads and changes. Several nodes
 * share the database: registration locks the row and retries once on a concurrent insert. The
 * reads and the sweep first write this node's held quiet pushes (./quiet-pushes.ts).
 */
import { HostStatus } from '@aspire/protocol';
import { parseTags } from '../../tasks/state-machine.ts';
import type { Mutation, Page, Paging } from '../common.ts';
import { decodeHostRow, decodeHostSubtaskRow } from '../row-decoders.ts';
import type {
  HostFilter,
  HostIdentityRow,
  HostRow,
  HostStore,
  HostSubtaskRow,
  RegisterInput,
  RegisterOutcome,
} from '../host-store.ts';
import { isUniqueViolation, PgPart, type PgDb, type Param, type Row } from './db.ts';
import { type HostSnapshot, readHostSnapshot } from './host-snapshot.ts';
import type { PgQuietPushes } from './quiet-pushes.ts';
import { ReadAhead } from './read-ahead.ts';
import { notFound } from '../common.ts';

const HOST_SELECT = `SELECT h.*, r.name AS region_name,
    (SELECT string_agg(t.name || '=' || t.value, ',' ORDER BY t.name, t.value) FROM hosts_tags ht JOIN tags t ON t.id = ht.tagid WHERE ht.hostid = h.id) AS bound
  FROM hosts h LEFT JOIN regions r ON r.id = h.region`;

export class PgHosts extends PgPart implements HostStore {
  /** The snapshot a credential check read, for the status push that asked it (./status-ingestion.ts). */
  readonly snapshots = new ReadAhead<HostSnapshot>();

  constructor(
    sql: PgDb,
    private readonly quiet: PgQuietPushes,
  ) {
    super(sql);
  }

  async register(input: RegisterInput): Promise<RegisterOutcome> {
    try {
      return await this.registerOnce(input);
    } catch (err) {
      // Another node inserted the same AgentSN meanwhile: decide again against its row.
      if (isUniqueViolation(err)) return this.registerOnce(input);
      throw err;
    }
  }

  private registerOnce(input: RegisterInput): Promise<RegisterOutcome> {
    return this.tx(async () => {
      const existing = await this.get<{ id: number; hostname: string; status: string; credential_hash: string }>(
        'SELECT id, hostname, status, credential_hash FROM hosts WHERE agentsn = ? FOR UPDATE',
        input.agentsn,
      );
      let agentsn = input.agentsn;
      let conflict = false;
      if (!existing) {
        await this.insertHost(agentsn, input);
      } else {
        // The same rules as the SQLite store (issue 16 item 6, seed conflict rule).
        const proven =
          existing.credential_hash === '' ||
          (input.presentedHash !== undefined && input.presentedHash === existing.credential_hash);
        if (existing.status === HostStatus.DELETED && (proven || existing.hostname === input.hostname)) {
          return { agentsn, conflict: false, tags: '', refused: 'deleted' as const };
        }
        if (!proven && existing.hostname === input.hostname)
          return { agentsn, conflict: false, tags: '', refused: 'takeover' as const };
        if (proven) {
          await this.run(
            'UPDATE hosts SET credential_hash = ?, ipaddr = ? WHERE id = ?',
            input.newHash,
            input.ip,
            existing.id,
          );
        } else {
          conflict = true;
          agentsn = input.freshAgentsn;
          await this.insertHost(agentsn, input);
        }
      }
      return { agentsn, conflict, tags: (await this.boundTags(agentsn)).join(',') };
    });
  }

  private async insertHost(agentsn: string, input: RegisterInput): Promise<void> {
    await this.run(
      `INSERT INTO hosts(agentsn, hostname, ipaddr, status, os, arch, curvers, credential_hash, gmt_create, gmt_modify)
       VALUES (?, ?, ?, 'registered', ?, ?, ?, ?, ?, ?)`,
      agentsn,
      input.hostname,
      input.ip,
      input.os ?? null,
      input.arch ?? null,
      input.version ?? null,
      input.newHash,
      input.now,
      input.now,
    );
  }

  /** The k=v tags an operator bound to a host, sorted. */
  async boundTags(agentsn: string): Promise<string[]> {
    const rows = await this.all<{ t: string }>(
      `SELECT t.name || '=' || t.value AS t FROM hosts h JOIN hosts_tags ht ON ht.hostid = h.id JOIN tags t ON t.id = ht.tagid
       WHERE h.agentsn = ? ORDER BY t.name, t.value`,
      agentsn,
    );
    return rows.map((r) => r.t);
  }

  async hostIdentity(agentsn: string): Promise<HostIdentityRow | undefined> {
    return this.get<HostIdentityRow>(
      'SELECT hostname, status, cert_sha256, prev_cert_sha256 FROM hosts WHERE agentsn = ?',
      agentsn,
    );
  }

  async recordHostCertificate(agentsn: string, sha256: string, renewal: boolean): Promise<void> {
    await this.run(
      renewal
        ? `UPDATE hosts SET prev_cert_sha256 = cert_sha256, cert_sha256 = ? WHERE agentsn = ?`
        : `UPDATE hosts SET prev_cert_sha256 = NULL, cert_sha256 = ? WHERE agentsn = ?`,
      sha256,
      agentsn,
    );
  }

  async resetHost(agentsn: string, now: number): Promise<Mutation<{ reset: number }>> {
    const { changes } = await this.run(
      `UPDATE hosts SET credential_hash = '', cert_sha256 = '', prev_cert_sha256 = NULL, status = CASE WHEN status = 'deleted' THEN 'registered' ELSE status END, gmt_modify = ? WHERE agentsn = ?`,
      now,
      agentsn,
    );
    if (!changes) return notFound(`no host ${agentsn}`);
    return { ok: true, value: { reset: changes } };
  }

  /**
   * The host's credential hash, read with the rest of what a status push is decided by (one
   * statement): a push asks this first, then its ingestion takes the snapshot instead of reading.
   */
  async credentialHash(agentsn: string): Promise<string | undefined> {
    const snap = await readHostSnapshot(this.sql, agentsn);
    if (snap === undefined) return undefined;
    this.snapshots.keep(agentsn, snap);
    return snap.credential_hash;
  }

  async markOffline(now: number, missedSteps: number): Promise<number> {
    // This node's held quiet pushes first: a host that pushed here is judged by that push.
    await this.quiet.flush();
    const gone = await this.all<{ agentsn: string }>(
      `UPDATE hosts SET status = 'offline', gmt_modify = ? WHERE status = 'online' AND last_seen + step * 1000 * ? < ? RETURNING agentsn`,
      now,
      missedSteps,
      now,
    );
    return gone.length;
  }

  async getHost(agentsn: string): Promise<HostRow | undefined> {
    await this.quiet.flush();
    const r = await this.get<Row>(`${HOST_SELECT} WHERE h.agentsn = ?`, agentsn);
    return r ? decodeHostRow(r) : undefined;
  }

  async listHosts(filter: HostFilter, paging: Paging): Promise<Page<HostRow>> {
    await this.quiet.flush();
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.status) where.push('h.status = ?'), params.push(filter.status);
    else where.push(`h.status != 'deleted'`);
    if (filter.region !== undefined) where.push('h.region = ?'), params.push(filter.region);
    if (filter.os) where.push('h.os = ?'), params.push(filter.os);
    if (filter.arch) where.push('h.arch = ?'), params.push(filter.arch);
    if (filter.version) where.push('h.curvers = ?'), params.push(filter.version);
    if (filter.hostname) where.push('h.hostname = ?'), params.push(filter.hostname);
    if (filter.search) {
      // A case-insensitive prefix match (SQLite's LIKE is; PostgreSQL's ILIKE), wildcards literal.
      const p = `${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      where.push(`(h.hostname ILIKE ? ESCAPE '\\' OR h.agentsn ILIKE ? ESCAPE '\\')`);
      params.push(p, p);
    }
    if (filter.tag) {
      const [pair] = parseTags(filter.tag);
      const i = pair!.indexOf('=');
      const name = i < 0 ? pair! : pair!.slice(0, i);
      const value = i < 0 ? '' : pair!.slice(i + 1);
      where.push(
        `(EXISTS (SELECT 1 FROM hosts_tags ht JOIN tags t ON t.id = ht.tagid WHERE ht.hostid = h.id AND t.name = ? AND t.value = ?)
          OR strpos(',' || h.reported_tags || ',', ?) > 0)`,
      );
      params.push(name, value, `,${pair},`);
    }
    return this.page('hosts', HOST_SELECT, where, params, paging, decodeHostRow);
  }

  async setHostRegion(agentsns: string[], region: number, now: number): Promise<Mutation<{ updated: number }>> {
    void now;
    return this.tx(async () => {
      if (!(await this.get('SELECT 1 AS x FROM regions WHERE id = ?', region))) return notFound(`no region ${region}`);
      let updated = 0;
      for (const sn of agentsns)
        updated += (await this.run('UPDATE hosts SET region = ? WHERE agentsn = ?', region, sn)).changes;
      return { ok: true as const, value: { updated } };
    });
  }

  async deleteHost(agentsn: string, now: number): Promise<Mutation<{ deleted: number }>> {
    const { changes } = await this.run(
      `UPDATE hosts SET status = 'deleted', gmt_modify = ? WHERE agentsn = ? AND status != 'deleted'`,
      now,
      agentsn,
    );
    if (!changes && !(await this.get('SELECT 1 AS x FROM hosts WHERE agentsn = ?', agentsn)))
      return notFound(`no host ${agentsn}`);
    return { ok: true, value: { deleted: changes } };
  }

  /** The newest subtasks of one host with their task's command and status (console host page). */
  async hostSubtasks(agentsn: string, limit: number): Promise<HostSubtaskRow[]> {
    const rows = await this.all(
      `SELECT s.taskid, t.command, t.status AS task_status, s.id AS subtask, s.state, s.errcode, s.message, s.gmt_modify
         FROM subtasks s JOIN tasks t ON t.id = s.taskid WHERE s.agentsn = ? ORDER BY s.taskid DESC LIMIT ?`,
      agentsn,
      limit,
    );
    return rows.map(decodeHostSubtaskRow);
  }
}
