import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@aspire/protocol';
import { checkInitIdentity } from '../../src/hub/init-identity.ts';

// The hub's init check as a table: the certificate's agentsn against the init and the store.
// cert_sha256 null: nothing recorded (any certificate for the agentsn); '': reset (none valid).
const row = (
  hostname: string,
  status: string,
  cert_sha256: string | null = null,
  prev_cert_sha256: string | null = null,
) => ({ hostname, status, cert_sha256, prev_cert_sha256 });
const hosts: Record<string, ReturnType<typeof row>> = {
  'sn-a': row('host-a', 'online'),
  'sn-b': row('host-b', 'online'),
  'sn-gone': row('gone', 'deleted'),
  'sn-renewed': row('renewed', 'online', 'f-new', 'f-old'),
  'sn-reset': row('reset', 'registered', ''),
};
const store = { hostIdentity: async (sn: string) => hosts[sn] };
const cert = (sn: string, fingerprint?: string) => ({
  authorized: true,
  subjectAltName: `URI:urn:aspire:agentsn:${sn}`,
  fingerprint,
});

describe('checkInitIdentity', () => {
  it.each([
    [
      'its own agentsn and hostname',
      cert('sn-a'),
      { hostname: 'host-a', agentsn: 'sn-a' },
      { ok: true, agentsn: 'sn-a' },
    ],
    ['hostname only, its own', cert('sn-a'), { hostname: 'host-a' }, { ok: true, agentsn: 'sn-a' }],
    [
      "another host's agentsn",
      cert('sn-a'),
      { hostname: 'host-b', agentsn: 'sn-b' },
      { ok: false, code: ErrorCode.IDENTITY_MISMATCH, host: 'sn-a' },
    ],
    [
      "another host's hostname only",
      cert('sn-a'),
      { hostname: 'host-b' },
      { ok: false, code: ErrorCode.IDENTITY_MISMATCH, host: 'sn-a' },
    ],
    [
      'its agentsn with another hostname',
      cert('sn-a'),
      { hostname: 'host-b', agentsn: 'sn-a' },
      { ok: false, code: ErrorCode.IDENTITY_MISMATCH },
    ],
    [
      'a deleted host',
      cert('sn-gone'),
      { hostname: 'gone', agentsn: 'sn-gone' },
      { ok: false, code: ErrorCode.IDENTITY_HOST_UNKNOWN, host: 'sn-gone' },
    ],
    ['an unknown host', cert('sn-x'), { hostname: 'x' }, { ok: false, code: ErrorCode.IDENTITY_HOST_UNKNOWN }],
    [
      'the current certificate',
      cert('sn-renewed', 'f-new'),
      { hostname: 'renewed' },
      { ok: true, agentsn: 'sn-renewed' },
    ],
    [
      'the previous certificate (renewal overlap)',
      cert('sn-renewed', 'f-old'),
      { hostname: 'renewed' },
      { ok: true, agentsn: 'sn-renewed' },
    ],
    [
      'an older certificate',
      cert('sn-renewed', 'f-older'),
      { hostname: 'renewed' },
      { ok: false, code: ErrorCode.IDENTITY_CERT_SUPERSEDED, host: 'sn-renewed' },
    ],
    [
      'any certificate after a reset',
      cert('sn-reset', 'f-new'),
      { hostname: 'reset' },
      { ok: false, code: ErrorCode.IDENTITY_CERT_SUPERSEDED, host: 'sn-reset' },
    ],
    [
      'no verified certificate',
      { authorized: false, subjectAltName: 'URI:urn:aspire:agentsn:sn-a', fingerprint: undefined },
      { hostname: 'host-a' },
      { ok: false, code: ErrorCode.IDENTITY_NO_CERTIFICATE },
    ],
    [
      'a certificate without the agentsn URI',
      { authorized: true, subjectAltName: 'DNS:host-a', fingerprint: undefined },
      { hostname: 'host-a' },
      { ok: false, code: ErrorCode.IDENTITY_NO_CERTIFICATE },
    ],
  ])('%s', async (_name, peer, init, want) => {
    expect(await checkInitIdentity(peer, init, store)).toMatchObject(want);
  });
});
