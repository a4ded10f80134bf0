import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import { checkInitIdentity } from '../../src/hub/init-identity.ts';

// The hub's init check as a table: the certificate's agentsn against the init and the store.
const hosts: Record<string, { hostname: string; status: string }> = {
  'sn-a': { hostname: 'host-a', status: 'online' },
  'sn-b': { hostname: 'host-b', status: 'online' },
  'sn-gone': { hostname: 'gone', status: 'deleted' },
};
const store = { hostIdentity: async (sn: string) => hosts[sn] };
const cert = (sn: string) => ({ authorized: true, subjectAltName: `URI:urn:aspire:agentsn:${sn}` });

describe('checkInitIdentity', () => {
  it.each([
    ['its own agentsn and hostname', cert('sn-a'), { hostname: 'host-a', agentsn: 'sn-a' }, { ok: true, agentsn: 'sn-a' }],
    ['hostname only, its own', cert('sn-a'), { hostname: 'host-a' }, { ok: true, agentsn: 'sn-a' }],
    ["another host's agentsn", cert('sn-a'), { hostname: 'host-b', agentsn: 'sn-b' }, { ok: false, code: ErrorCode.IDENTITY_MISMATCH, host: 'sn-a' }],
    ["another host's hostname only", cert('sn-a'), { hostname: 'host-b' }, { ok: false, code: ErrorCode.IDENTITY_MISMATCH, host: 'sn-a' }],
    ['its agentsn with another hostname', cert('sn-a'), { hostname: 'host-b', agentsn: 'sn-a' }, { ok: false, code: ErrorCode.IDENTITY_MISMATCH }],
    ['a deleted host', cert('sn-gone'), { hostname: 'gone', agentsn: 'sn-gone' }, { ok: false, code: ErrorCode.IDENTITY_HOST_UNKNOWN, host: 'sn-gone' }],
    ['an unknown host', cert('sn-x'), { hostname: 'x' }, { ok: false, code: ErrorCode.IDENTITY_HOST_UNKNOWN }],
    ['no verified certificate', { authorized: false, subjectAltName: 'URI:urn:aspire:agentsn:sn-a' }, { hostname: 'host-a' }, { ok: false, code: ErrorCode.IDENTITY_NO_CERTIFICATE }],
    ['a certificate without the agentsn URI', { authorized: true, subjectAltName: 'DNS:host-a' }, { hostname: 'host-a' }, { ok: false, code: ErrorCode.IDENTITY_NO_CERTIFICATE }],
  ])('%s', async (_name, peer, init, want) => {
    expect(await checkInitIdentity(peer, init, store)).toMatchObject(want);
  });
});
