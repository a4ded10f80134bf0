/** Tags, regions (with bound-host counts) and the fleet counts on SQLite (events: events.ts, tokens: operators.ts). */
import { decodeRegionRow, decodeTagRow } from '../row-decoders.ts';
import type { Dashboard, Mutation, Page, Paging, RegionRow, TagRow } from '../store.ts';
import { conflict, notFound } from '../common.ts';
import { SqlitePart, type Param } from './base.ts';

export class SqliteInventory extends SqlitePart {
  async listTags(filter: { name?: string }, paging: Paging): Promise<Page<TagRow>> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.name) where.push('t.name = ?'), params.push(filter.name);
    return this.page(
      'tags',
      `SELECT t.*, (SELECT COUNT(*) FROM hosts_tags ht WHERE ht.tagid = t.id) AS hosts FROM tags t`,
      where,
      params,
      paging,
      decodeTagRow,
    );
  }

  private tagById(id: number): TagRow | undefined {
    return this.get<TagRow>(
      `SELECT t.*, (SELECT COUNT(*) FROM hosts_tags ht WHERE ht.tagid = t.id) AS hosts FROM tags t WHERE t.id = ?`,
      id,
    );
  }

  async createTag(name: string, value: string, now: number): Promise<Mutation<TagRow>> {
    return this.tx(() => {
      if (this.get('SELECT 1 AS x FROM tags WHERE name = ? AND value = ?', name, value))
        return conflict(`tag ${name}=${value} exists`);
      const { lastId } = this.run(
        'INSERT INTO tags(name, value, gmt_create, gmt_modify) VALUES (?, ?, ?, ?)',
        name,
        value,
        now,
        now,
      );
      return { ok: true as const, value: this.tagById(lastId)! };
    });
  }

  async updateTag(id: number, name: string, value: string, now: number): Promise<Mutation<TagRow>> {
    return this.tx(() => {
      if (!this.tagById(id)) return notFound(`no tag ${id}`);
      const clash = this.get<{ id: number }>('SELECT id FROM tags WHERE name = ? AND value = ?', name, value);
      if (clash && clash.id !== id) return conflict(`tag ${name}=${value} exists`);
      this.run('UPDATE tags SET name = ?, value = ?, gmt_modify = ? WHERE id = ?', name, value, now, id);
      return { ok: true as const, value: this.tagById(id)! };
    });
  }

  async deleteTag(id: number): Promise<Mutation<{ deleted: number }>> {
    const { changes } = this.run('DELETE FROM tags WHERE id = ?', id);
    return changes ? { ok: true, value: { deleted: changes } } : notFound(`no tag ${id}`);
  }

  async bindTag(
    tagid: number,
    agentsns: string[],
    bind: boolean,
    now: number,
  ): Promise<Mutation<{ changed: number; unknown: string[] }>> {
    return this.tx(() => {
      if (!this.tagById(tagid)) return notFound(`no tag ${tagid}`);
      let changed = 0;
      const unknown: string[] = [];
      for (const sn of agentsns) {
        const h = this.get<{ id: number }>('SELECT id FROM hosts WHERE agentsn = ?', sn);
        if (!h) {
          unknown.push(sn);
          continue;
        }
        changed += bind
          ? this.run('INSERT OR IGNORE INTO hosts_tags(hostid, tagid) VALUES (?, ?)', h.id, tagid).changes
          : this.run('DELETE FROM hosts_tags WHERE hostid = ? AND tagid = ?', h.id, tagid).changes;
      }
      if (changed) this.run('UPDATE tags SET gmt_modify = ? WHERE id = ?', now, tagid);
      return { ok: true as const, value: { changed, unknown } };
    });
  }

  async listRegions(paging: Paging): Promise<Page<RegionRow>> {
    return this.page(
      'regions',
      `SELECT r.*, (SELECT COUNT(*) FROM hosts h WHERE h.region = r.id AND h.status != 'deleted') AS hosts FROM regions r`,
      [],
      [],
      paging,
      decodeRegionRow,
    );
  }

  private regionById(id: number): RegionRow | undefined {
    return this.get<RegionRow>(
      `SELECT r.*, (SELECT COUNT(*) FROM hosts h WHERE h.region = r.id AND h.status != 'deleted') AS hosts FROM regions r WHERE r.id = ?`,
      id,
    );
  }

  async createRegion(name: string, now: number): Promise<Mutation<RegionRow>> {
    return this.tx(() => {
      if (this.get('SELECT 1 AS x FROM regions WHERE name = ?', name)) return conflict(`region ${name} exists`);
      const { lastId } = this.run('INSERT INTO regions(name, gmt_create, gmt_modify) VALUES (?, ?, ?)', name, now, now);
      return { ok: true as const, value: this.regionById(lastId)! };
    });
  }

  async updateRegion(id: number, name: string, now: number): Promise<Mutation<RegionRow>> {
    return this.tx(() => {
      if (!this.regionById(id)) return notFound(`no region ${id}`);
      const clash = this.get<{ id: number }>('SELECT id FROM regions WHERE name = ?', name);
      if (clash && clash.id !== id) return conflict(`region ${name} exists`);
      this.run('UPDATE regions SET name = ?, gmt_modify = ? WHERE id = ?', name, now, id);
      return { ok: true as const, value: this.regionById(id)! };
    });
  }

  async deleteRegion(id: number): Promise<Mutation<{ deleted: number }>> {
    return this.tx(() => {
      if (id === 0)
        return { ok: false as const, reason: 'bad_request' as const, cause: 'region 0 (global) cannot be deleted' };
      const r = this.regionById(id);
      if (!r) return notFound(`no region ${id}`);
      // Hosts of a deleted region fall back to the global region rather than dangle.
      this.run('UPDATE hosts SET region = 0 WHERE region = ?', id);
      this.run('DELETE FROM regions WHERE id = ?', id);
      return { ok: true as const, value: { deleted: 1 } };
    });
  }

  async computeDashboard(now: number): Promise<Dashboard> {
    const h = this.get<{ total: number; online: number; offline: number; registered: number }>(
      `SELECT COUNT(*) AS total, COALESCE(SUM(status = 'online'), 0) AS online, COALESCE(SUM(status = 'offline'), 0) AS offline,
              COALESCE(SUM(status = 'registered'), 0) AS registered
       FROM hosts WHERE status != 'deleted'`,
    )!;
    const agents = this.all<{ name: string; deployed: number; online: number }>(
      `SELECT j.value ->> 'name' AS name, COUNT(*) AS deployed,
              COALESCE(SUM(h.status = 'online' AND j.value ->> 'status' = 'running'), 0) AS online
       FROM hosts h, json_each(h.agents) j WHERE h.status != 'deleted' GROUP BY 1 ORDER BY 1`,
    );
    return { hosts: h, agents, computedAt: now };
  }

  async metricCounts(): Promise<{ hosts: Record<string, number>; subtasks: Record<string, number> }> {
    const count = (sql: string) => Object.fromEntries(this.all<{ k: string; n: number }>(sql).map((r) => [r.k, r.n]));
    return {
      hosts: count('SELECT status AS k, COUNT(*) AS n FROM hosts GROUP BY status'),
      subtasks: count('SELECT state AS k, COUNT(*) AS n FROM subtasks GROUP BY state'),
    };
  }
}
