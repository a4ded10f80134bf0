/** Package rows (design.md §5 `agents`): the files themselves live under the data dir. */
import { decodePackageRow } from '../row-decoders.ts';
import type { Mutation, PackageFilter, PackageRow, Page, Paging } from '../store.ts';
import { conflict } from '../common.ts';
import { SqlitePart, type Param } from './base.ts';

export class SqlitePackages extends SqlitePart {
  async insertPackage(
    p: Omit<PackageRow, 'id' | 'gmt_create' | 'gmt_modify'>,
    now: number,
  ): Promise<Mutation<PackageRow>> {
    return this.tx(() => {
      if (
        this.get(
          'SELECT 1 AS x FROM packages WHERE name = ? AND os = ? AND arch = ? AND version = ?',
          p.name,
          p.os,
          p.arch,
          p.version,
        )
      ) {
        return conflict(`package ${p.name} ${p.version} ${p.os}/${p.arch} exists`);
      }
      if (this.get('SELECT 1 AS x FROM packages WHERE path = ?', p.path))
        return conflict(`file ${p.path} belongs to another package`);
      const { lastId } = this.run(
        'INSERT INTO packages(name, version, os, arch, file, path, size, sha256, gmt_create, gmt_modify) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        p.name,
        p.version,
        p.os,
        p.arch,
        p.file,
        p.path,
        p.size,
        p.sha256,
        now,
        now,
      );
      return { ok: true as const, value: this.get<PackageRow>('SELECT * FROM packages WHERE id = ?', lastId)! };
    });
  }

  async getPackage(id: number): Promise<PackageRow | undefined> {
    return this.get<PackageRow>('SELECT * FROM packages WHERE id = ?', id);
  }

  async findPackage(name: string, version: string, os?: string, arch?: string): Promise<PackageRow | undefined> {
    if (os && arch)
      return this.get<PackageRow>(
        'SELECT * FROM packages WHERE name = ? AND version = ? AND os = ? AND arch = ?',
        name,
        version,
        os,
        arch,
      );
    return this.get<PackageRow>(
      'SELECT * FROM packages WHERE name = ? AND version = ? ORDER BY id LIMIT 1',
      name,
      version,
    );
  }

  private packageWhere(filter: PackageFilter): { where: string[]; params: Param[] } {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.id !== undefined) where.push('id = ?'), params.push(filter.id);
    if (filter.name) where.push('name = ?'), params.push(filter.name);
    if (filter.version) where.push('version = ?'), params.push(filter.version);
    if (filter.os) where.push('os = ?'), params.push(filter.os);
    if (filter.arch) where.push('arch = ?'), params.push(filter.arch);
    return { where, params };
  }

  async listPackages(filter: PackageFilter, paging: Paging): Promise<Page<PackageRow>> {
    const { where, params } = this.packageWhere(filter);
    return this.page('packages', 'SELECT * FROM packages', where, params, paging, decodePackageRow);
  }

  async deletePackages(filter: PackageFilter): Promise<PackageRow[]> {
    const { where, params } = this.packageWhere(filter);
    if (where.length === 0) return [];
    return this.all<PackageRow>(`DELETE FROM packages WHERE ${where.join(' AND ')} RETURNING *`, ...params);
  }
}
