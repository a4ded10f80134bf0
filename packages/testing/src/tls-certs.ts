import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  caCertFile: string;
  caCert: string;
  /** A server certificate signed by this CA for the given names. */
  serverCertFile: string;
  serverKeyFile: string;
  serverCert: string;
  serverKey: string;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

/**
 * A throw-away CA and a server certificate signed by it, made with the machine's openssl at
 * test time (EC P-256: fast), so no key material is ever committed. `names` become the
 * subjectAltName (DNS names and IP addresses).
 */
export function makeTestCa(opts: { names?: string[]; dir?: string; cn?: string; days?: number } = {}): TestCa {
  const days = String(opts.days ?? 2);
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'aspire-tls-'));
  const names = opts.names ?? ['localhost', '127.0.0.1', '::1'];
  const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      days,
      '-subj',
      `/CN=${opts.cn ?? 'Aspire test CA'}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  openssl(
    ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${names[0] ?? 'localhost'}`],
    dir,
  );
  writeFileSync(
    join(dir, 'server.ext'),
    `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      days,
      '-extfile',
      'server.ext',
    ],
    dir,
  );
  const file = (f: string) => join(dir, f);
  return {
    dir,
    caCertFile: file('ca.crt'),
    caCert: readFileSync(file('ca.crt'), 'utf8'),
    serverCertFile: file('server.crt'),
    serverKeyFile: file('server.key'),
    serverCert: readFileSync(file('server.crt'), 'utf8'),
    serverKey: readFileSync(file('server.key'), 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TestHostCa {
  certFile: string;
  keyFile: string;
  cert: string;
}

let sharedHostCa: TestHostCa | undefined;

/**
 * One host CA (EC P-256, made with openssl) shared by every test server of this process, given
 * to them as hostCaCert/hostCaKey: a BasicAgent enrolled on one server is trusted by the others
 * (a redirect between two test servers, as between the nodes of one deployment).
 */
export function sharedTestHostCa(): TestHostCa {
  if (sharedHostCa) return sharedHostCa;
  const dir = mkdtempSync(join(tmpdir(), 'aspire-hostca-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=Aspire test host CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  sharedHostCa = {
    certFile: join(dir, 'ca.crt'),
    keyFile: join(dir, 'ca.key'),
    cert: readFileSync(join(dir, 'ca.crt'), 'utf8'),
  };
  return sharedHostCa;
}

/** A fresh EC P-256 key and a CSR for it (subject CN = cn), as PEM files in `dir`. */
export function makeHostKeyAndCsr(dir: string, cn: string): { keyFile: string; csr: string } {
  openssl(
    [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'host.key',
      '-out',
      'host.csr',
      '-subj',
      `/CN=${cn}`,
    ],
    dir,
  );
  return { keyFile: join(dir, 'host.key'), csr: readFileSync(join(dir, 'host.csr'), 'utf8') };
}
