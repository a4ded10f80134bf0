/** Operator tokens (hash, role, scope JSON) and the append-only audit table (migration 004). */
import { SqlitePart, type Param } from './base.ts';
import { decodeAuditRow, decodeTokenRow } from '../row-decoders.ts';
import type { AuditEntry, AuditFilter, AuditRow, Page, Paging, TokenGrant, TokenRow } from '../store.ts';

export class SqliteOperators extends SqlitePart {
  async createToken(name: string, hash: string, now: number, grant?: { role: string; scope: string }): Promise<number> {
    return this.run(
      'INSERT INTO tokens(name, hash, gmt_create, role, scope) VALUES (?, ?, ?, ?, ?)',
      name,
      hash,
      now,
      grant?.role ?? 'admin',
      grant?.scope ?? '{}',
    ).lastId;
  }

  async listTokens(): Promise<TokenRow[]> {
    return this.all('SELECT id, name, role, scope, gmt_create, last_used FROM tokens ORDER BY id').map(decodeTokenRow);
  }

  async deleteTokens(name: string): Promise<number> {
    return this.run('DELETE FROM tokens WHERE name = ?', name).changes;
  }

  async tokenGrant(hash: string, now: number): Promise<TokenGrant | undefined> {
    return this.get<TokenGrant>(
      'UPDATE tokens SET last_used = ? WHERE hash = ? RETURNING name, role, scope',
      now,
      hash,
    );
  }

  async appendAudit(e: AuditEntry): Promise<number> {
    return this.run(
      `INSERT INTO audit(at, phase, request, token, source, method, route, targets, selector, command, run_as, code, outcome)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      e.at,
      e.phase,
      e.request,
      e.token,
      e.source,
      e.method,
      e.route,
      e.targets,
      e.selector,
      e.command,
      e.run_as,
      e.code,
      e.outcome,
    ).lastId;
  }

  async listAudit(filter: AuditFilter, paging: Paging): Promise<Page<AuditRow>> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.token !== undefined) where.push('token = ?'), params.push(filter.token);
    if (filter.route !== undefined) where.push('route = ?'), params.push(filter.route);
    if (filter.since !== undefined) where.push('at >= ?'), params.push(filter.since);
    if (filter.until !== undefined) where.push('at <= ?'), params.push(filter.until);
    if (filter.agentsn !== undefined) {
      where.push(`(selector LIKE 'hosts=%' AND instr(',' || substr(selector, 7) || ',', ?) > 0)`);
      params.push(`,${filter.agentsn},`);
    }
    return this.page('audit', 'SELECT * FROM audit', where, params, paging, decodeAuditRow);
  }

  async pruneAudit(before: number): Promise<number> {
    return this.run('DELETE FROM audit WHERE at < ?', before).changes;
  }
}
