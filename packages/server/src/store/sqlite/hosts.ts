/**
 * The hosts part of the SQLite store (HostStore): registration and its proof, the identity
 * the hub checks, the offline sweep and the operator's host reads and changes. Reads and the
 * sweep see the quiet pushes buffered in ./quiet-pushes.ts. Credential hashes are answered from
 * memory (../credential-cache.ts): this process is the only writer, and the two writes of
 * credential_hash below forget the entry before they run.
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
import { notFound } from '../common.ts';
import { CredentialCache } from '../credential-cache.ts';
import { SqlitePart, type Param, type Row, type SqliteDb } from './base.ts';
import type { QuietPushes } from './quiet-pushes.ts';

const HOST_SELECT = `SELECT h.*, r.name AS region_name,
    (SELECT GROUP_CONCAT(t.name || '=' || t.value, ',') FROM hosts_tags ht JOIN tags t ON t.id = ht.tagid WHERE ht.hostid = h.id) AS bound
  FROM hosts h LEFT JOIN regions r ON r.id = h.region`;

export class SqliteHosts extends SqlitePart implements HostStore {
  private readonly credentials = new CredentialCache();

  constructor(
    sql: SqliteDb,
    private readonly quiet: QuietPushes,
  ) {
    super(sql);
  }

  async register(input: RegisterInput): Promise<RegisterOutcome> {
    // Before the write, whatever its outcome: the next push reads the stored hash again.
    this.credentials.forget(input.agentsn);
    return this.tx(() => {
      const existing = this.get<{ id: number; hostname: string; status: string; credential_hash: string }>(
        'SELECT id, hostname, status, credential_hash FROM hosts WHERE agentsn = ?',
        input.agentsn,
      );
      let agentsn = input.agentsn;
      let conflict = false;
      if (!existing) {
        this.insertHost(agentsn, input);
      } else {
        // The same host asking again proves it with its credential, or an operator reset the
        // host (credential cleared). The same hostname without proof is refused: with the enroll
        // secret alone it would take the host over (issue 16 item 6). Another hostname gets a
        // fresh AgentSN (seed conflict rule). A deleted host stays deleted until a reset.
        const proven =
          existing.credential_hash === '' ||
          (input.presentedHash !== undefined && input.presentedHash === existing.credential_hash);
        if (existing.status === HostStatus.DELETED && (proven || existing.hostname === input.hostname)) {
          return { agentsn, conflict: false, tags: '', refused: 'deleted' as const };
        }
        if (!proven && existing.hostname === input.hostname)
          return { agentsn, conflict: false, tags: '', refused: 'takeover' as const };
        if (proven) {
          this.run(
            'UPDATE hosts SET credential_hash = ?, ipaddr = ? WHERE id = ?',
            input.newHash,
            input.ip,
            existing.id,
          );
        } else {
          conflict = true;
          agentsn = input.freshAgentsn;
          this.insertHost(agentsn, input);
        }
      }
      return { agentsn, conflict, tags: this.boundTags(agentsn).join(',') };
    });
  }

  private insertHost(agentsn: string, input: RegisterInput): void {
    this.run(
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
  boundTags(agentsn: string): string[] {
    return this.all<{ t: string }>(
      `SELECT t.name || '=' || t.value AS t FROM hosts h JOIN hosts_tags ht ON ht.hostid = h.id JOIN tags t ON t.id = ht.tagid
       WHERE h.agentsn = ? ORDER BY t.name, t.value`,
      agentsn,
    ).map((r) => r.t);
  }

  async hostIdentity(agentsn: string): Promise<HostIdentityRow | undefined> {
    return this.get<HostIdentityRow>(
      'SELECT hostname, status, cert_sha256, prev_cert_sha256 FROM hosts WHERE agentsn = ?',
      agentsn,
    );
  }

  async recordHostCertificate(agentsn: string, sha256: string, renewal: boolean): Promise<void> {
    this.run(
      renewal
        ? `UPDATE hosts SET prev_cert_sha256 = cert_sha256, cert_sha256 = ? WHERE agentsn = ?`
        : `UPDATE hosts SET prev_cert_sha256 = NULL, cert_sha256 = ? WHERE agentsn = ?`,
      sha256,
      agentsn,
    );
  }

  async resetHost(agentsn: string, now: number): Promise<Mutation<{ reset: number }>> {
    this.credentials.forget(agentsn);
    const { changes } = this.run(
      `UPDATE hosts SET credential_hash = '', cert_sha256 = '', prev_cert_sha256 = NULL, status = CASE WHEN status = 'deleted' THEN 'registered' ELSE status END, gmt_modify = ? WHERE agentsn = ?`,
      now,
      agentsn,
    );
    if (!changes) return notFound(`no host ${agentsn}`);
    this.quiet.written.delete(agentsn);
    return { ok: true, value: { reset: changes } };
  }

  async credentialHash(agentsn: string): Promise<string | undefined> {
    const cached = this.credentials.get(agentsn);
    if (cached !== undefined) return cached;
    const hash = this.get<{ credential_hash: string }>(
      'SELECT credential_hash FROM hosts WHERE agentsn = ?',
      agentsn,
    )?.credential_hash;
    // Read and cached in one synchronous step: no write of this process lands in between.
    if (hash !== undefined) this.credentials.set(agentsn, hash);
    return hash;
  }

  async markOffline(now: number, missedSteps: number): Promise<number> {
    const gone = this.quiet.flushIfRoom()
      ? this.all<{ agentsn: string }>(
          `UPDATE hosts SET status = 'offline', gmt_modify = ? WHERE status = 'online' AND last_seen + step * 1000 * ? < ? RETURNING agentsn`,
          now,
          missedSteps,
          now,
        )
      : this.markOfflineByHeld(now, missedSteps);
    // Their next push must go through the full write (status back to online).
    for (const g of gone) this.quiet.written.delete(g.agentsn);
    return gone.length;
  }

  /** The sweep while answered pushes are only buffered (full disk): judge those hosts by them. */
  private markOfflineByHeld(now: number, missedSteps: number): { agentsn: string }[] {
    const late = this.all<{ agentsn: string; step: number }>(
      `SELECT agentsn, step FROM hosts WHERE status = 'online' AND last_seen + step * 1000 * ? < ?`,
      missedSteps,
      now,
    ).filter((h) => {
      const held = this.quiet.held(h.agentsn);
      return held === undefined || held.lastSeen + h.step * 1000 * missedSteps < now;
    });
    if (late.length === 0) return [];
    return this.tx(() =>
      late.filter(
        (h) =>
          this.run(
            `UPDATE hosts SET status = 'offline', gmt_modify = ? WHERE agentsn = ? AND status = 'online'`,
            now,
            h.agentsn,
          ).changes > 0,
      ),
    );
  }

  async getHost(agentsn: string): Promise<HostRow | undefined> {
    this.quiet.flushIfRoom();
    const r = this.get<Row>(`${HOST_SELECT} WHERE h.agentsn = ?`, agentsn);
    return r ? this.quiet.withSeen(decodeHostRow(r)) : undefined;
  }

  async listHosts(filter: HostFilter, paging: Paging): Promise<Page<HostRow>> {
    this.quiet.flushIfRoom();
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
      // A prefix match; LIKE wildcards in the input are literal.
      const p = `${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      where.push(`(h.hostname LIKE ? ESCAPE '\\' OR h.agentsn LIKE ? ESCAPE '\\')`);
      params.push(p, p);
    }
    if (filter.tag) {
      const [pair] = parseTags(filter.tag);
      const i = pair!.indexOf('=');
      const name = i < 0 ? pair! : pair!.slice(0, i);
      const value = i < 0 ? '' : pair!.slice(i + 1);
      where.push(
        `(EXISTS (SELECT 1 FROM hosts_tags ht JOIN tags t ON t.id = ht.tagid WHERE ht.hostid = h.id AND t.name = ? AND t.value = ?)
          OR instr(',' || h.reported_tags || ',', ?) > 0)`,
      );
      params.push(name, value, `,${pair},`);
    }
    return this.page('hosts', HOST_SELECT, where, params, paging, (r) => this.quiet.withSeen(decodeHostRow(r)));
  }

  async setHostRegion(agentsns: string[], region: number, now: number): Promise<Mutation<{ updated: number }>> {
    return this.tx(() => {
      if (!this.get('SELECT 1 AS x FROM regions WHERE id = ?', region)) return notFound(`no region ${region}`);
      let updated = 0;
      for (const sn of agentsns)
        updated += this.run('UPDATE hosts SET region = ? WHERE agentsn = ?', region, sn).changes;
      void now;
      return { ok: true as const, value: { updated } };
    });
  }

  async deleteHost(agentsn: string, now: number): Promise<Mutation<{ deleted: number }>> {
    this.quiet.written.delete(agentsn);
    const { changes } = this.run(
      `UPDATE hosts SET status = 'deleted', gmt_modify = ? WHERE agentsn = ? AND status != 'deleted'`,
      now,
      agentsn,
    );
    if (!changes && !this.get('SELECT 1 AS x FROM hosts WHERE agentsn = ?', agentsn))
      return notFound(`no host ${agentsn}`);
    return { ok: true, value: { deleted: changes } };
  }

  async hostSubtasks(agentsn: string, limit: number): Promise<HostSubtaskRow[]> {
    const rows = this.all(
      `SELECT s.taskid, t.command, t.status AS task_status, s.id AS subtask, s.state, s.errcode, s.message, s.gmt_modify
         FROM subtasks s JOIN tasks t ON t.id = s.taskid WHERE s.agentsn = ? ORDER BY s.taskid DESC LIMIT ?`,
      agentsn,
      limit,
    );
    return rows.map(decodeHostSubtaskRow);
  }
}
