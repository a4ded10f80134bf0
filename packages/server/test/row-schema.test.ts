// Rows defined once (store/row-schema.ts, store/row-decoders.ts): a SQL row is decoded against
// its schema (a column of the wrong kind is an internal error, never passed on), and the REST
// answer schema is the row schema with its time columns as ISO 8601 strings.
import { ApiStatus, isAspireError } from '@aspire/protocol';
import { describe, expect, it } from 'vitest';
import { HostSchema, PackageSchema } from '../src/http/response-schemas.ts';
import { HostRowSchema } from '../src/store/host-store.ts';
import { PackageRowSchema } from '../src/store/package-store.ts';
import { decodeAuditRow, decodeHostRow, decodePackageRow } from '../src/store/row-decoders.ts';

const pkg = {
  id: 1,
  name: 'BasicAgent',
  version: '1.0',
  os: 'linux',
  arch: 'x86_64',
  file: 'b.tgz',
  path: 'packages/b.tgz',
  size: 10,
  sha256: 'ab',
  gmt_create: 1,
  gmt_modify: 2,
};

describe('row schemas', () => {
  it('decodes a row to the columns its schema names, JSON columns parsed', () => {
    expect(decodePackageRow({ ...pkg, extra: 'x' })).toEqual(pkg);
    const host = decodeHostRow({
      id: 1,
      agentsn: 'sn',
      hostname: 'h',
      ipaddr: null,
      region: 0,
      region_name: 'global',
      status: 'online',
      step: 1.5,
      os: null,
      arch: null,
      curvers: null,
      prevers: null,
      uptime: null,
      agents: '[{"name":"BasicAgent"}]',
      reported_tags: '',
      bound: 'a=b,c=d',
      credential_hash: 'secret',
      last_seen: null,
      events_dropped: 0,
      events_dropped_at: null,
      gmt_create: 1,
      gmt_modify: 2,
    });
    expect(host.agents).toEqual([{ name: 'BasicAgent' }]);
    expect(host.tags).toEqual(['a=b', 'c=d']);
    expect(host).not.toHaveProperty('credential_hash');
  });

  it('refuses a row whose column is of the wrong kind, or null where it may not be', () => {
    const wrong = [
      () => decodePackageRow({ ...pkg, size: '10' }),
      () => decodePackageRow({ ...pkg, name: null }),
      () => decodeAuditRow({ id: 1, at: 1, phase: 'other' }),
    ];
    for (const decode of wrong) {
      let err: unknown;
      try {
        decode();
      } catch (e) {
        err = e;
      }
      expect(isAspireError(err, ApiStatus.INTERNAL)).toBe(true);
    }
  });

  it('derives the answer schema: time columns as ISO 8601 strings, nullable kept, others as the row says', () => {
    const row = HostRowSchema.properties;
    const api = HostSchema.properties as Record<string, Record<string, unknown>>;
    expect(Object.keys(api)).toEqual(Object.keys(row));
    expect(api.last_seen).toMatchObject({ type: 'string', format: 'date-time', nullable: true });
    expect(api.gmt_create).toMatchObject({ type: 'string', format: 'date-time' });
    expect(api.gmt_create).not.toHaveProperty('nullable');
    expect(api.uptime).toMatchObject({ type: 'number', nullable: true });
    expect(api.hostname).toBe(row.hostname);
    expect(Object.keys(PackageSchema.properties)).toEqual(Object.keys(PackageRowSchema.properties));
  });
});
