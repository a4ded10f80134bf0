import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AspireHandle } from './aspire-server.ts';
import { makeHostKeyAndCsr } from './tls-certs.ts';

export interface EnrolledHost {
  agentsn: string;
  /** Credential per server URL (x-aspire-credential). */
  credentials: Map<string, string>;
  keyFile: string;
  certFile: string;
  caFile: string;
}

/** Credentials handed out so far, per server and agentsn: enrolling the same host again proves it. */
const known = new Map<string, string>();

/**
 * Register a host the way a BootAgent does (POST /agent/register with the enroll secret and a
 * CSR) on each of `servers`, with one key, and keep the first client certificate: what a
 * BasicAgent presents to the hub. Files go to `<dir>/identity/` (key 0600). Only the first server
 * gets the CSR: a server that issued a certificate accepts only that one at init (the others,
 * which issued none, accept any of the shared host CA for the agentsn).
 */
export async function enrollHost(
  servers: AspireHandle[],
  o: { hostname: string; agentsn?: string; dir: string },
): Promise<EnrolledHost> {
  if (servers.length === 0) throw new Error('enrollHost: no server');
  const idDir = join(o.dir, 'identity');
  mkdirSync(idDir, { recursive: true });
  const agentsn = o.agentsn ?? randomUUID();
  const { keyFile, csr } = makeHostKeyAndCsr(idDir, agentsn);
  const certFile = join(idDir, 'host.crt');
  const caFile = join(idDir, 'ca.crt');
  const credentials = new Map<string, string>();
  let first = true;
  for (const srv of servers) {
    const key = `${srv.url}|${agentsn}`;
    const proof = known.get(key);
    const r = await srv.api(
      'POST',
      '/agent/register',
      { hostname: o.hostname, agentsn, ...(first ? { csr } : {}) },
      {
        token: null,
        headers: { 'x-aspire-enroll': srv.enrollSecret, ...(proof ? { 'x-aspire-credential': proof } : {}) },
      },
    );
    if (r.status !== 200 || r.body.agentsn !== agentsn || (first && typeof r.body.cert !== 'string')) {
      throw new Error(`enrollHost ${o.hostname} ${agentsn} on ${srv.url}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    known.set(key, r.body.credential);
    credentials.set(srv.url, r.body.credential);
    if (first) {
      writeFileSync(certFile, r.body.cert);
      writeFileSync(caFile, r.body.caCert);
      first = false;
    }
  }
  return { agentsn, credentials, keyFile, certFile, caFile };
}

/** The agentsn in a BootAgent metafile, if any. */
export function metafileAgentsn(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    const sn = (JSON.parse(readFileSync(path, 'utf8')) as { agentsn?: unknown }).agentsn;
    return typeof sn === 'string' && sn ? sn : undefined;
  } catch {
    return undefined;
  }
}
