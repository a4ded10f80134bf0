/**
 * Agents download packages from the server: GET /agent/package/:id/:file.
 *
 * Authentication (documented choice): the status reply hands the agent a signed link
 * (?agentsn=&expires=&sig=, HMAC-SHA256 with a key kept in the database), so any HTTP
 * downloader can fetch it without knowing our headers; a request carrying the host's
 * x-aspire-credential and ?agentsn= is accepted too. Single byte ranges are honoured (resume).
 */
import { createHmac } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AgentPath, CREDENTIAL_HEADER } from '@aspire/protocol';
import type { PartContext } from '../app-context.ts';
import type { HostStore } from '../store/host-store.ts';
import type { PackageStore } from '../store/package-store.ts';
import { sendError } from '../http/envelope.ts';
import { sameSecret, sha256Hex } from '../http/secrets.ts';
import type { PackageRow } from '../store/store.ts';

export function linkSignature(key: string, id: number, agentsn: string, expires: number): string {
  return createHmac('sha256', key).update(`${id}\n${agentsn}\n${expires}`).digest('hex');
}

export function packageLink(
  request: FastifyRequest,
  ctx: PartContext<HostStore & PackageStore>,
  pkg: PackageRow,
  agentsn: string,
  nowMs: number,
): string {
  const base = ctx.config.publicUrl ?? `${request.protocol}://${request.host}`;
  const expires = Math.floor(nowMs / 1000) + ctx.config.packageLinkSec;
  const sig = linkSignature(ctx.linkKey, pkg.id, agentsn, expires);
  const q = new URLSearchParams({ agentsn, expires: String(expires), sig });
  return `${base}${AgentPath.PACKAGE}/${pkg.id}/${encodeURIComponent(pkg.file)}?${q}`;
}

/** Parse a single-range Range header against a size; 'all' for none/multi, undefined if unsatisfiable. */
export function parseRange(h: string | undefined, size: number): { start: number; end: number } | 'all' | undefined {
  if (!h) return 'all';
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m) return 'all'; // multi-range or another unit: RFC 9110 lets us send the whole file
  const [, a, b] = m;
  if (a === '' && b === '') return 'all';
  let start: number;
  let end: number;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return undefined;
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) return undefined;
  return { start, end };
}

const Params = Type.Object({ id: Type.Integer({ minimum: 1 }), file: Type.String({ minLength: 1, maxLength: 255 }) });
const Query = Type.Object({
  agentsn: Type.String({ minLength: 1, maxLength: 64 }),
  expires: Type.Optional(Type.Integer()),
  sig: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
});

export async function agentPackageRoutes(
  app: FastifyInstance,
  ctx: PartContext<HostStore & PackageStore>,
): Promise<void> {
  app.get<{ Params: { id: number; file: string }; Querystring: { agentsn: string; expires?: number; sig?: string } }>(
    `${AgentPath.PACKAGE}/:id/:file`,
    {
      schema: {
        tags: ['agent'],
        summary: 'Download a package (signed link from a status reply, or the host credential); Range supported',
        params: Params,
        querystring: Query,
      },
    },
    async (request, reply) => {
      const { id, file } = request.params;
      const { agentsn, expires, sig } = request.query;
      const nowSec = Math.floor(ctx.clock.now() / 1000);
      let authorised = false;
      if (sig !== undefined && expires !== undefined) {
        authorised = expires >= nowSec && sameSecret(sig, linkSignature(ctx.linkKey, id, agentsn, expires));
      } else {
        const cred = request.headers[CREDENTIAL_HEADER];
        const stored = await ctx.store.credentialHash(agentsn);
        authorised = typeof cred === 'string' && stored !== undefined && sameSecret(sha256Hex(cred), stored);
      }
      if (!authorised)
        return sendError(
          reply,
          'UNAUTHORIZED',
          'package link expired or not signed for this host, or wrong credential',
        );
      const pkg = await ctx.store.getPackage(id);
      if (!pkg || pkg.file !== file) return sendError(reply, 'NOT_FOUND', `no package ${id}/${file}`);
      const path = join(ctx.config.dataDir, pkg.path);
      let size: number;
      try {
        size = statSync(path).size;
      } catch {
        return sendError(reply, 'NOT_FOUND', `package file ${pkg.path} is missing on the server`);
      }
      const range = parseRange(request.headers.range, size);
      reply.header('accept-ranges', 'bytes');
      if (range === undefined) {
        reply.header('content-range', `bytes */${size}`);
        return sendError(reply, 'RANGE_NOT_SATISFIABLE', `range ${request.headers.range} outside 0..${size - 1}`);
      }
      reply.header('content-type', 'application/octet-stream');
      reply.header('x-checksum-sha256', pkg.sha256);
      if (range === 'all') {
        reply.header('content-length', String(size));
        return reply.send(createReadStream(path));
      }
      reply.code(206);
      reply.header('content-range', `bytes ${range.start}-${range.end}/${size}`);
      reply.header('content-length', String(range.end - range.start + 1));
      return reply.send(createReadStream(path, { start: range.start, end: range.end }));
    },
  );
}
