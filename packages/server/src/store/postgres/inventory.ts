/** Tags, regions (with bound-host counts) and the fleet counts on PostgreSQL (events: events.ts). */
import { decodeRegionRow, decodeTagRow } from '../row-decoders.ts';
import type { Dashboard, Mutation, Page, Paging, RegionRow, TagRow } from '../store.ts';
import { isUniqueViolation, PgPart, type Param } from './db.ts';
import { conflict, notFound } from '../common.ts';

const TAG_SELECT = `SELECT t.*, (SELECT COUNT(*) FROM hosts_tags ht WHERE ht.tagid = t.id) AS hosts FROM tags t`;
const REGION_SELECT = `SELECT r.*, (SELECT COUNT(*) FROM hosts h WHERE h.region = r.id AND h.status != 'deleted') AS hosts FROM regions r`;

export class PgInventory extends PgPart {
  async listTags(filter: { name?: string }, paging: Paging): Promise<Page<TagRow>> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.name) where.push('t.name = ?'), params.push(filter.name);
    return this.page('tags', TAG_SELECT, where, params, paging, decodeTagRow);
  }

  private tagById(id: number): Promise<TagRow | undefined> {
    return this.get<TagRow>(`${TAG_SELECT} WHERE t.id = ?`, id);
  }

  async createTag(name: string, value: string, now: number): Promise<Mutation<TagRow>> {
    const row = await this.get<{ id: number }>(
      'INSERT INTO tags(name, value, gmt_create, gmt_modify) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id',
      name,
      value,
      now,
      now,
    );
    if (!row) return conflict(`tag ${name}=${value} exists`);
    return { ok: true, value: (await this.tagById(row.id))! };
  }

  async updateTag(id: number, name: string, value: string, now: number): Promise<Mutation<TagRow>> {
    try {
      return await this.tx(async () => {
        if (!(await this.tagById(id))) return notFound(`no tag ${id}`);
        const clash = await this.get<{ id: number }>('SELECT id FROM tags WHERE name = ? AND value = ?', name, value);
        if (clash && clash.id !== id) return conflict(`tag ${name}=${value} exists`);
        await this.run('UPDATE tags SET name = ?, value = ?, gmt_modify = ? WHERE id = ?', name, value, now, id);
        return { ok: true as const, value: (await this.tagById(id))! };
      });
    } catch (err) {
      if (isUniqueViolation(err)) return conflict(`tag ${name}=${value} exists`);
      throw err;
    }
  }

  async deleteTag(id: number): Promise<Mutation<{ deleted: number }>> {
    const { changes } = await this.run('DELETE FROM tags WHERE id = ?', id);
    return changes ? { ok: true, value: { deleted: changes } } : notFound(`no tag ${id}`);
  }

  async bindTag(
    tagid: number,
    agentsns: string[],
    bind: boolean,
    now: number,
  ): Promise<Mutation<{ changed: number; unknown: string[] }>> {
    return this.tx(async () => {
      if (!(await this.tagById(tagid))) return notFound(`no tag ${tagid}`);
      let changed = 0;
      const unknown: string[] = [];
      for (const sn of agentsns) {
        const h = await this.get<{ id: number }>('SELECT id FROM hosts WHERE agentsn = ?', sn);
        if (!h) {
          unknown.push(sn);
          continue;
        }
        changed += bind
          ? (await this.run('INSERT INTO hosts_tags(hostid, tagid) VALUES (?, ?) ON CONFLICT DO NOTHING', h.id, tagid))
              .changes
          : (await this.run('DELETE FROM hosts_tags WHERE hostid = ? AND tagid = ?', h.id, tagid)).changes;
      }
      if (changed) await this.run('UPDATE tags SET gmt_modify = ? WHERE id = ?', now, tagid);
      return { ok: true as const, value: { changed, unknown } };
    });
  }

  async listRegions(paging: Paging): Promise<Page<RegionRow>> {
    return this.page('regions', REGION_SELECT, [], [], paging, decodeRegionRow);
  }

  private regionById(id: number): Promise<RegionRow | undefined> {
    return this.get<RegionRow>(`${REGION_SELECT} WHERE r.id = ?`, id);
  }

  async createRegion(name: string, now: number): Promise<Mutation<RegionRow>> {
    const row = await this.get<{ id: number }>(
      'INSERT INTO regions(name, gmt_create, gmt_modify) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING id',
      name,
      now,
      now,
    );
    if (!row) return conflict(`region ${name} exists`);
    return { ok: true, value: (await this.regionById(row.id))! };
  }

  async updateRegion(id: number, name: string, now: number): Promise<Mutation<RegionRow>> {
    try {
      return await this.tx(async () => {
        if (!(await this.regionById(id))) return notFound(`no region ${id}`);
        const clash = await this.get<{ id: number }>('SELECT id FROM regions WHERE name = ?', name);
        if (clash && clash.id !== id) return conflict(`region ${name} exists`);
        await this.run('UPDATE regions SET name = ?, gmt_modify = ? WHERE id = ?', name, now, id);
        return { ok: true as const, value: (await this.regionById(id))! };
      });
    } catch (err) {
      if (isUniqueViolation(err)) return conflict(`region ${name} exists`);
      throw err;
    }
  }

  async deleteRegion(id: number): Promise<Mutation<{ deleted: number }>> {
    return this.tx(async () => {
      if (id === 0)
        return { ok: false as const, reason: 'bad_request' as const, cause: 'region 0 (global) cannot be deleted' };
      if (!(await this.regionById(id))) return notFound(`no region ${id}`);
      await this.run('UPDATE hosts SET region = 0 WHERE region = ?', id);
      await this.run('DELETE FROM regions WHERE id = ?', id);
      return { ok: true as const, value: { deleted: 1 } };
    });
  }

  async computeDashboard(now: number): Promise<Dashboard> {
    const h = (await this.get<{ total: number; online: number; offline: number; registered: number }>(
      `SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE status = 'online') AS online, COUNT(*) FILTER (WHERE status = 'offline') AS offline,
              COUNT(*) FILTER (WHERE status = 'registered') AS registered
       FROM hosts WHERE status != 'deleted'`,
    ))!;
    const agents = await this.all<{ name: string; deployed: number; online: number }>(
      `SELECT j.value ->> 'name' AS name, COUNT(*) AS deployed,
              COUNT(*) FILTER (WHERE h.status = 'online' AND j.value ->> 'status' = 'running') AS online
       FROM hosts h, jsonb_array_elements(h.agents::jsonb) j WHERE h.status != 'deleted' GROUP BY 1 ORDER BY 1`,
    );
    return { hosts: h, agents, computedAt: now };
  }

  async metricCounts(): Promise<{ hosts: Record<string, number>; subtasks: Record<string, number> }> {
    const count = async (sql: string) =>
      Object.fromEntries((await this.all<{ k: string; n: number }>(sql)).map((r) => [r.k, r.n]));
    return {
      hosts: await count('SELECT status AS k, COUNT(*) AS n FROM hosts GROUP BY status'),
      subtasks: await count('SELECT state AS k, COUNT(*) AS n FROM subtasks GROUP BY state'),
    };
  }
}
