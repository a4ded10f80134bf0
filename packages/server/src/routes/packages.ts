/**
 * Packages (design.md §5): POST /package (raw body with ?name&version&os&arch&file, or
 * multipart/form-data with those fields and one file part, or the design's JSON body
 * {name,version,arch,os,file[,url]} registering a file already under packages/{os}/{arch}/{file}
 * or fetched from url, its SHA256 computed), GET /package (filters + paging),
 * DELETE /package (filters). Uploads stream to a temp file under the data dir while being
 * hashed and counted; over the limit, refused or failed, the temp file is removed.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import multipart from '@fastify/multipart';
import { isDiskFull } from '@aspire/agent-core';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PartContext } from '../app-context.ts';
import type { PackageStore } from '../store/package-store.ts';
import { drain, DRAIN_CAP_BYTES } from '../http/drain.ts';
import { ok, sendError } from '../http/envelope.ts';
import { pagingQuery, toPaging } from '../http/paging.ts';
import { PackagePage } from '../http/response-schemas.ts';
import { PACKAGE_TIME_FIELDS, withIsoTimes } from '../http/iso-time.ts';
import type { PackageFilter, PackageRow } from '../store/store.ts';

const packageOut = (p: PackageRow) => withIsoTimes(p, PACKAGE_TIME_FIELDS);

const FIELDS = {
  name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
  version: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._+~-]*$' }),
  os: Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z0-9_]+$' }),
  arch: Type.String({ minLength: 1, maxLength: 16, pattern: '^[A-Za-z0-9_]+$' }),
  // A plain file name: no directories, no leading dot, so the stored path stays inside packages/.
  file: Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9][A-Za-z0-9._+~-]*$' }),
};
const UploadQuery = Type.Object(
  {
    name: Type.Optional(FIELDS.name),
    version: Type.Optional(FIELDS.version),
    os: Type.Optional(FIELDS.os),
    arch: Type.Optional(FIELDS.arch),
    file: Type.Optional(FIELDS.file),
  },
  { additionalProperties: false },
);
const Meta = Type.Object(FIELDS, { additionalProperties: false });
/** Seed 000's JSON registration body: the file is already under packages/{os}/{arch}/{file}, or fetched from url. */
const RegisterBody = Type.Object(
  {
    ...FIELDS,
    url: Type.Optional(
      Type.String({
        maxLength: 2048,
        pattern: '^https?://[^\\s]+$',
        description: 'fetch the file from here (http/https) instead of finding it in the package directory',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'register a package: {"name","version","arch","os","file"} names a file already at packages/{os}/{arch}/{file} under the data dir; with url the file is fetched there first; its SHA256 is computed either way',
  },
);
type Meta = Static<typeof Meta>;
const FilterFields = {
  id: Type.Optional(Type.Integer({ minimum: 1 })),
  name: Type.Optional(Type.String({ maxLength: 64 })),
  version: Type.Optional(Type.String({ maxLength: 64 })),
  os: Type.Optional(Type.String({ maxLength: 32 })),
  arch: Type.Optional(Type.String({ maxLength: 16 })),
};
const ListQuery = pagingQuery('packages', FilterFields);

class TooLarge extends Error {}

/** Counts and hashes what passes through; errors past the limit. */
function meter(limit: number): Transform & { bytes: number; hash: ReturnType<typeof createHash> } {
  const hash = createHash('sha256');
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      t.bytes += chunk.length;
      if (t.bytes > limit) return cb(new TooLarge(`upload exceeds ${limit} bytes`));
      hash.update(chunk);
      cb(null, chunk);
    },
  }) as Transform & { bytes: number; hash: typeof hash };
  t.bytes = 0;
  t.hash = hash;
  return t;
}

/** Routes in their registration order: upload (its own scope, for the multipart parser), list, delete. */
export async function packageRoutes(app: FastifyInstance, ctx: PartContext<PackageStore>): Promise<void> {
  await registerUpload(app, ctx);
  registerList(app, ctx);
  registerDelete(app, ctx);
}

async function registerUpload(app: FastifyInstance, ctx: PartContext<PackageStore>): Promise<void> {
  const root = join(ctx.config.dataDir, 'packages');
  const incoming = join(root, '.incoming');
  const limit = ctx.config.uploadMaxBytes;

  await app.register(async (scope) => {
    await scope.register(multipart, { limits: { fileSize: limit, files: 1, fields: 10, fieldSize: 1024, parts: 12 } });
    scope.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

    scope.post<{ Querystring: Static<typeof UploadQuery> }>(
      '/package',
      {
        schema: {
          tags: ['package'],
          summary:
            'Upload a package: raw application/octet-stream body with ?name&version&os&arch&file, or multipart/form-data (same fields + one file), or register one with the JSON body {name,version,arch,os,file[,url]} (design.md §5): the file already in packages/{os}/{arch}/{file}, or fetched from url (http/https); its SHA256 is computed',
          querystring: UploadQuery,
          consumes: ['application/octet-stream', 'multipart/form-data', 'application/json'],
          // Only the JSON body has a schema (the others are streams, checked as they arrive).
          body: { content: { 'application/json': { schema: RegisterBody } } },
        },
      },
      async (request, reply) => {
        const declared = Number(request.headers['content-length']);
        if (Number.isFinite(declared) && declared > limit + (request.isMultipart() ? 64 * 1024 : 0)) {
          await drain(request.raw, DRAIN_CAP_BYTES);
          reply.header('connection', 'close');
          return sendError(reply, 'PAYLOAD_TOO_LARGE', `upload of ${declared} bytes exceeds uploadMaxBytes ${limit}`);
        }
        mkdirSync(incoming, { recursive: true });
        const tmp = join(incoming, randomUUID());
        try {
          if (request.headers['content-type']?.startsWith('application/json'))
            return await registerJson(ctx, limit, request, reply, tmp);
          return await receive(ctx, limit, request, reply, tmp);
        } finally {
          rmSync(tmp, { force: true });
        }
      },
    );
  });
}

async function receive(
  ctx: PartContext<PackageStore>,
  limit: number,
  request: FastifyRequest<{ Querystring: Static<typeof UploadQuery> }>,
  reply: FastifyReply,
  tmp: string,
): Promise<FastifyReply> {
  const fields: Record<string, unknown> = { ...request.query };
  const m = meter(limit);
  let gotFile = false;
  try {
    if (request.isMultipart()) {
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          if (gotFile) return sendError(reply, 'BAD_REQUEST', 'one file per upload');
          gotFile = true;
          if (fields.file === undefined && part.filename) fields.file = part.filename;
          await pipeline(part.file, m, createWriteStream(tmp, { mode: 0o644 }));
        } else if (typeof part.value === 'string') {
          fields[part.fieldname] = part.value;
        }
      }
    } else {
      if (!request.headers['content-type']?.startsWith('application/octet-stream')) {
        return sendError(reply, 'UNSUPPORTED_MEDIA_TYPE', 'send application/octet-stream or multipart/form-data');
      }
      gotFile = true;
      // pipeline() would destroy the request (and the socket) on error; piping the source by
      // hand lets us read the rest and answer 413 to a client that is still sending.
      const src = request.body as Readable;
      const written = pipeline(m, createWriteStream(tmp, { mode: 0o644 }));
      src.pipe(m);
      try {
        await written;
      } catch (err) {
        src.unpipe(m);
        await drain(src, DRAIN_CAP_BYTES);
        throw err;
      }
    }
  } catch (err) {
    // The upload is discarded: its partial file goes before the answer does, so a client that
    // looks at the data dir after the answer never sees it.
    rmSync(tmp, { force: true });
    const e = err as Error & { statusCode?: number; code?: string };
    if (err instanceof TooLarge || e.statusCode === 413 || e.code === 'FST_REQ_FILE_TOO_LARGE') {
      reply.header('connection', 'close');
      return sendError(reply, 'PAYLOAD_TOO_LARGE', `upload exceeds uploadMaxBytes ${limit}`);
    }
    if (e.statusCode && e.statusCode < 500) return sendError(reply, 'BAD_REQUEST', e.message);
    if (isDiskFull(e)) {
      request.log.error({ dataDir: ctx.config.dataDir }, 'package upload failed: no space left on the data disk');
      return sendError(reply, 'UNAVAILABLE', "no space left on the server's data disk; the upload was discarded");
    }
    throw err;
  }
  if (!gotFile) return sendError(reply, 'BAD_REQUEST', 'no file in the upload');
  const meta = validateMeta(fields);
  if (typeof meta === 'string') return sendError(reply, 'BAD_REQUEST', meta);
  const rel = `packages/${meta.os}/${meta.arch}/${meta.file}`;
  const sha256 = m.hash.digest('hex');
  const r = await ctx.store.insertPackage({ ...meta, path: rel, size: m.bytes, sha256 }, ctx.clock.now());
  if (!r.ok) return sendError(reply, 'CONFLICT', r.cause);
  const dest = join(ctx.config.dataDir, rel);
  try {
    mkdirSync(dirname(dest), { recursive: true });
    renameSync(tmp, dest);
  } catch (err) {
    await ctx.store.deletePackages({ id: r.value.id });
    throw err;
  }
  request.log.info({ package: r.value.id, path: rel, size: m.bytes }, 'package uploaded');
  return reply.send(ok({ package: packageOut(r.value) }));
}

/** The design's JSON body: register a file already in the package directory, or fetch it from `url`. */
async function registerJson(
  ctx: PartContext<PackageStore>,
  limit: number,
  request: FastifyRequest,
  reply: FastifyReply,
  tmp: string,
): Promise<FastifyReply> {
  const body = request.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return sendError(reply, 'BAD_REQUEST', 'body: a JSON object {name,version,arch,os,file[,url]}');
  const { url, ...fields } = body as Record<string, unknown>;
  const extra = Object.keys(fields).filter((k) => !(k in FIELDS));
  if (extra.length) return sendError(reply, 'BAD_REQUEST', `unknown fields: ${extra.join(', ')}`);
  const meta = validateMeta(fields);
  if (typeof meta === 'string') return sendError(reply, 'BAD_REQUEST', meta);
  const rel = `packages/${meta.os}/${meta.arch}/${meta.file}`;
  const dest = join(ctx.config.dataDir, rel);
  const m = meter(limit);
  let fetched = false;
  if (url === undefined) {
    if (!existsSync(dest) || !statSync(dest).isFile()) {
      return sendError(
        reply,
        'BAD_REQUEST',
        `no file ${rel} under the data dir: put it there first, upload it (octet-stream or multipart), or give url`,
      );
    }
    await pipeline(createReadStream(dest), m, new Writable({ write: (_c, _e, cb) => cb() }));
  } else {
    if (typeof url !== 'string' || url.length > 2048 || !/^https?:\/\/[^\s]+$/.test(url))
      return sendError(reply, 'BAD_REQUEST', 'url: an http:// or https:// URL');
    if (existsSync(dest)) return sendError(reply, 'CONFLICT', `${rel} exists already: register it without url`);
    let res: Response;
    try {
      res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(300_000) });
    } catch (err) {
      return sendError(reply, 'BAD_REQUEST', `url: cannot fetch (${(err as Error).message})`);
    }
    if (!res.ok || !res.body) return sendError(reply, 'BAD_REQUEST', `url: answered HTTP ${res.status}`);
    try {
      await pipeline(
        Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
        m,
        createWriteStream(tmp, { mode: 0o644 }),
      );
    } catch (err) {
      if (err instanceof TooLarge)
        return sendError(reply, 'PAYLOAD_TOO_LARGE', `url: file exceeds uploadMaxBytes ${limit}`);
      return sendError(reply, 'BAD_REQUEST', `url: fetch failed (${(err as Error).message})`);
    }
    fetched = true;
  }
  const sha256 = m.hash.digest('hex');
  const r = await ctx.store.insertPackage({ ...meta, path: rel, size: m.bytes, sha256 }, ctx.clock.now());
  if (!r.ok) return sendError(reply, 'CONFLICT', r.cause);
  if (fetched) {
    try {
      mkdirSync(dirname(dest), { recursive: true });
      renameSync(tmp, dest);
    } catch (err) {
      await ctx.store.deletePackages({ id: r.value.id });
      throw err;
    }
  }
  request.log.info({ package: r.value.id, path: rel, size: m.bytes }, 'package registered');
  return reply.send(ok({ package: packageOut(r.value) }));
}

function validateMeta(fields: Record<string, unknown>): Meta | string {
  const problems: string[] = [];
  const out: Record<string, string> = {};
  for (const [k, schema] of Object.entries(FIELDS)) {
    const v = fields[k];
    if (typeof v !== 'string' || v.length === 0) problems.push(`${k}: required`);
    else if (v.length > (schema.maxLength ?? 255) || !new RegExp(schema.pattern!).test(v))
      problems.push(`${k}: must match ${schema.pattern}`);
    else out[k] = v;
  }
  return problems.length ? problems.join('; ') : (out as Meta);
}

function registerList(app: FastifyInstance, ctx: PartContext<PackageStore>): void {
  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/package',
    {
      schema: {
        tags: ['package'],
        summary: 'Packages filtered by id, name, version, os, arch; paged (design.md §5)',
        querystring: ListQuery,
        response: { 200: PackagePage },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const page = await ctx.store.listPackages(
        { id: q.id, name: q.name, version: q.version, os: q.os, arch: q.arch },
        toPaging(q),
      );
      return reply.send(
        ok({ count: page.count, offset: page.offset, limit: page.limit, packages: page.items.map(packageOut) }),
      );
    },
  );
}

function registerDelete(app: FastifyInstance, ctx: PartContext<PackageStore>): void {
  app.delete<{ Querystring: Static<typeof ListQuery> }>(
    '/package',
    {
      schema: {
        tags: ['package'],
        summary: 'Delete the packages matching the filters (at least one) and their files',
        querystring: ListQuery,
      },
    },
    async (request, reply) => {
      const q = request.query;
      const filter: PackageFilter = { id: q.id, name: q.name, version: q.version, os: q.os, arch: q.arch };
      if (Object.values(filter).every((v) => v === undefined || v === ''))
        return sendError(reply, 'BAD_REQUEST', 'give at least one of id, name, version, os, arch');
      const rows = await ctx.store.deletePackages(filter);
      for (const p of rows) rmSync(join(ctx.config.dataDir, p.path), { force: true });
      if (rows.length === 0) return sendError(reply, 'NOT_FOUND', 'no package matches');
      return reply.send(ok({ deleted: rows.length, packages: rows.map(packageOut) }));
    },
  );
}
