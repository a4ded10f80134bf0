/**
 * Every answer carries the design.md §5 envelope {status, message, cause}: errors from fastify
 * itself (bad JSON, body too large, schema validation, unknown route) are mapped here too.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { fail, ok, type ApiStatusName } from '@aspire/protocol';
import { drain } from './drain.ts';
import { isStorageFull } from '../store/storage-full.ts';

/**
 * The one way the server answers a REST error: the envelope of `name` with `cause`, and any
 * fields a route adds beside them (`reason`, `unknown`) after the envelope's own.
 */
export function sendError(
  reply: FastifyReply,
  name: ApiStatusName,
  cause?: string,
  extra?: Record<string, unknown>,
): FastifyReply {
  const { http, body } = fail(name, cause);
  return reply.code(http).send(extra ? { ...body, ...extra } : body);
}

export { ok };

const BY_HTTP: Record<number, ApiStatusName> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  416: 'RANGE_NOT_SATISFIABLE',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE',
};

export function installEnvelopeHandlers(app: FastifyInstance): void {
  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    if (err.validation) return sendError(reply, 'BAD_REQUEST', err.message);
    const code = err.statusCode ?? 500;
    if (code === 413) {
      // Body over the limit, refused before it was read: read the rest so the client sees 413.
      await drain(request.raw);
      reply.header('connection', 'close');
    }
    const name = BY_HTTP[code];
    if (name) return sendError(reply, name, err.message);
    // A full disk (files or SQLite) is the operator's to fix, not a bug: say so, keep serving.
    if (isStorageFull(err)) {
      request.log.error({ err }, 'disk full');
      return sendError(reply, 'UNAVAILABLE', 'the server is out of disk space');
    }
    request.log.error({ err, url: request.url, method: request.method }, 'request failed');
    return sendError(reply, 'INTERNAL', 'internal error; see the server log');
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`),
  );
}
