/**
 * Fetch a package to a temp file in the state dir and verify its SHA-256 before anything else
 * looks at it. Each failure has its own code (design.md, docs/errors.md): dead URL or HTTP error
 * JOB_DOWNLOAD_FAILED, more than downloadMaxBytes JOB_DOWNLOAD_TOO_LARGE, fewer bytes than the
 * Content-Length JOB_DOWNLOAD_TRUNCATED, wrong digest JOB_CHECKSUM_MISMATCH, ENOSPC
 * JOB_DISK_FULL. On any failure the temp file is removed: the host is left as it was.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { isDiskFull } from '@aspire/agent-core';
// Types only: undici (about 28 MB of RSS; docs/boot-agent.md "Footprint"), basic-ftp and
// node:tls under them are loaded on the first download that needs them, so an idle boot never
// pays for them; in the built bundle undici is a chunk of its own (scripts/build.mjs).
import type { Agent } from 'undici';
import { JobError } from './job-error.ts';

export interface DownloadOptions {
  tmpDir: string;
  maxBytes: number;
  signal: AbortSignal;
  /** Give up on a silent server after this long. */
  timeoutMs?: number;
  /** Extra CA (PEM file) trusted for https downloads, e.g. the BootAgent's `ca`. Verification stays on. */
  caFile?: string;
}

const agents = new Map<string, Agent>();
async function dispatcherFor(undici: typeof import('undici'), caFile: string | undefined): Promise<Agent | undefined> {
  if (!caFile) return undefined;
  let a = agents.get(caFile);
  if (!a) {
    const { rootCertificates } = await import('node:tls');
    // `ca` replaces Node's default list: keep the system roots and add the configured one.
    a = new undici.Agent({ connect: { ca: [...rootCertificates, readFileSync(caFile, 'utf8')] } });
    agents.set(caFile, a);
  }
  return a;
}

export interface Downloaded {
  path: string;
  size: number;
  sha256: string;
  /** Remove the temp file (idempotent). */
  remove(): void;
}

/** `SHA256:<hex>` -> lower-case hex; JOB_INVALID when absent or malformed. */
export function parseChecksum(checksum: unknown): string {
  const m = typeof checksum === 'string' ? /^SHA256:([0-9a-fA-F]{64})$/.exec(checksum) : null;
  if (!m) throw new JobError('JOB_INVALID', 'checksum: required as "SHA256:<64 hex digits>"');
  return m[1]!.toLowerCase();
}

class TooLarge extends Error {}

/** Counts and hashes bytes on their way to disk; stops the stream past maxBytes. */
function meter(maxBytes: number, hash: ReturnType<typeof createHash>, counter: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      counter.n += chunk.length;
      if (counter.n > maxBytes) return cb(new TooLarge());
      hash.update(chunk);
      cb(null, chunk);
    },
  });
}

export async function download(url: string, checksum: unknown, opts: DownloadOptions): Promise<Downloaded> {
  const want = parseChecksum(checksum);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new JobError('JOB_INVALID', `url: ${JSON.stringify(url)} is not a URL`);
  }
  mkdirSync(opts.tmpDir, { recursive: true, mode: 0o700 });
  const path = join(opts.tmpDir, `dl-${randomBytes(8).toString('hex')}.part`);
  const remove = () => rmSync(path, { force: true });
  const hash = createHash('sha256');
  const counter = { n: 0 };
  try {
    switch (parsed.protocol) {
      case 'http:':
      case 'https:':
        await fetchHttp(parsed, path, hash, counter, opts);
        break;
      case 'file:':
        await fetchFile(parsed, path, hash, counter, opts);
        break;
      case 'ftp:':
        await fetchFtp(parsed, path, hash, counter, opts);
        break;
      default:
        throw new JobError('JOB_DOWNLOAD_FAILED', `url: unsupported scheme ${parsed.protocol}`);
    }
    const got = hash.digest('hex');
    if (got !== want)
      throw new JobError(
        'JOB_CHECKSUM_MISMATCH',
        `checksum mismatch: expected SHA256:${want}, got SHA256:${got} (${counter.n} bytes)`,
      );
    return { path, size: counter.n, sha256: got, remove };
  } catch (err) {
    remove();
    throw classify(err, url, opts);
  }
}

function classify(err: unknown, url: string, opts: DownloadOptions): JobError {
  if (err instanceof JobError) return err;
  if (err instanceof TooLarge)
    return new JobError('JOB_DOWNLOAD_TOO_LARGE', `download of ${redact(url)} exceeds ${opts.maxBytes} bytes`);
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  if (isDiskFull(e) || isDiskFull(e?.cause))
    return new JobError('JOB_DISK_FULL', `download of ${redact(url)}: no space left on device`);
  if (opts.signal.aborted) return new JobError('JOB_INTERRUPTED', `download of ${redact(url)} aborted`);
  const detail = e?.cause?.message ?? e?.message ?? String(err);
  return new JobError('JOB_DOWNLOAD_FAILED', `download of ${redact(url)} failed: ${detail}`);
}

/** URLs may carry ftp passwords: never log them. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

async function fetchHttp(
  url: URL,
  path: string,
  hash: ReturnType<typeof createHash>,
  counter: { n: number },
  opts: DownloadOptions,
): Promise<void> {
  const signal = AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs ?? 300_000)]);
  const undici = await import('undici');
  const dispatcher = await dispatcherFor(undici, opts.caFile);
  const res = await undici.fetch(url, { signal, redirect: 'follow', ...(dispatcher ? { dispatcher } : {}) });
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => {});
    throw new JobError('JOB_DOWNLOAD_FAILED', `download of ${redact(url.toString())} failed: HTTP ${res.status}`);
  }
  const lenHeader = res.headers.get('content-length');
  const expected = lenHeader !== null && /^\d+$/.test(lenHeader) ? Number(lenHeader) : undefined;
  if (expected !== undefined && expected > opts.maxBytes) {
    await res.body.cancel().catch(() => {});
    throw new TooLarge();
  }
  const body = Readable.fromWeb(res.body);
  try {
    await pipeline(body, meter(opts.maxBytes, hash, counter), createWriteStream(path, { mode: 0o600 }));
  } catch (err) {
    if (expected !== undefined && counter.n < expected && !(err instanceof TooLarge) && !isDiskFull(err)) {
      throw new JobError(
        'JOB_DOWNLOAD_TRUNCATED',
        `download of ${redact(url.toString())} truncated: ${counter.n} of ${expected} bytes`,
      );
    }
    throw err;
  }
  if (expected !== undefined && counter.n < expected) {
    throw new JobError(
      'JOB_DOWNLOAD_TRUNCATED',
      `download of ${redact(url.toString())} truncated: ${counter.n} of ${expected} bytes`,
    );
  }
}

async function fetchFile(
  url: URL,
  path: string,
  hash: ReturnType<typeof createHash>,
  counter: { n: number },
  opts: DownloadOptions,
): Promise<void> {
  const src = fileURLToPath(url);
  let size: number;
  try {
    size = statSync(src).size;
  } catch (err) {
    throw new JobError('JOB_DOWNLOAD_FAILED', `${src}: ${(err as Error).message}`);
  }
  if (size > opts.maxBytes) throw new TooLarge();
  await pipeline(createReadStream(src), meter(opts.maxBytes, hash, counter), createWriteStream(path, { mode: 0o600 }), {
    signal: opts.signal,
  });
}

/** Passive-mode RETR through basic-ftp (maintained; plain FTP, or FTPS with ftps:// not offered). */
async function fetchFtp(
  url: URL,
  path: string,
  hash: ReturnType<typeof createHash>,
  counter: { n: number },
  opts: DownloadOptions,
): Promise<void> {
  const { Client: FtpClient } = await import('basic-ftp');
  const client = new FtpClient(opts.timeoutMs ?? 60_000);
  const onAbort = () => client.close();
  opts.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await client.access({
      host: url.hostname,
      port: url.port ? Number(url.port) : 21,
      user: url.username ? decodeURIComponent(url.username) : 'anonymous',
      password: url.password ? decodeURIComponent(url.password) : 'anonymous@',
      secure: false,
    });
    const remote = decodeURIComponent(url.pathname);
    let expected: number | undefined;
    try {
      expected = await client.size(remote);
    } catch {
      expected = undefined;
    }
    if (expected !== undefined && expected > opts.maxBytes) throw new TooLarge();
    const m = meter(opts.maxBytes, hash, counter);
    const out = createWriteStream(path, { mode: 0o600 });
    const done = pipeline(m, out);
    await client.downloadTo(m, remote);
    await done;
    if (expected !== undefined && counter.n < expected) {
      throw new JobError(
        'JOB_DOWNLOAD_TRUNCATED',
        `download of ${redact(url.toString())} truncated: ${counter.n} of ${expected} bytes`,
      );
    }
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    client.close();
  }
}
