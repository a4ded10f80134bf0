/** The packages part of the store: uploaded packages (the files live under the data dir). */
import type { Mutation, Page, Paging } from './common.ts';

export interface PackageRow {
  id: number;
  name: string;
  version: string;
  os: string;
  arch: string;
  file: string;
  path: string;
  size: number;
  sha256: string;
  gmt_create: number;
  gmt_modify: number;
}

export interface PackageFilter {
  id?: number;
  name?: string;
  version?: string;
  os?: string;
  arch?: string;
}

export interface PackageStore {
  insertPackage(p: Omit<PackageRow, 'id' | 'gmt_create' | 'gmt_modify'>, now: number): Promise<Mutation<PackageRow>>;
  getPackage(id: number): Promise<PackageRow | undefined>;
  findPackage(name: string, version: string, os?: string, arch?: string): Promise<PackageRow | undefined>;
  listPackages(filter: PackageFilter, paging: Paging): Promise<Page<PackageRow>>;
  /** Delete the matching rows and return them, so the caller removes their files. */
  deletePackages(filter: PackageFilter): Promise<PackageRow[]>;
}
