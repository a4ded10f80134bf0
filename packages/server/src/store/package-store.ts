/** The packages part of the store: uploaded packages (the files live under the data dir). */
import type { Static } from '@sinclair/typebox';
import type { Mutation, Page, Paging } from './common.ts';
import { Num, Row, Str, Time } from './row-schema.ts';

export const PackageRowSchema = Row(
  {
    id: Num(),
    name: Str(),
    version: Str(),
    os: Str(),
    arch: Str(),
    file: Str(),
    path: Str('under the data dir'),
    size: Num('bytes'),
    sha256: Str('hex'),
    gmt_create: Time('uploaded'),
    gmt_modify: Time('last change'),
  },
  'an uploaded package',
);
export type PackageRow = Static<typeof PackageRowSchema>;

export interface PackageFilter {
  id?: number | undefined;
  name?: string | undefined;
  version?: string | undefined;
  os?: string | undefined;
  arch?: string | undefined;
}

export interface PackageStore {
  insertPackage(p: Omit<PackageRow, 'id' | 'gmt_create' | 'gmt_modify'>, now: number): Promise<Mutation<PackageRow>>;
  getPackage(id: number): Promise<PackageRow | undefined>;
  findPackage(name: string, version: string, os?: string, arch?: string): Promise<PackageRow | undefined>;
  listPackages(filter: PackageFilter, paging: Paging): Promise<Page<PackageRow>>;
  /** Delete the matching rows and return them, so the caller removes their files. */
  deletePackages(filter: PackageFilter): Promise<PackageRow[]>;
}
