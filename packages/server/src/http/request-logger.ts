/**
 * The per-request logger fastify makes (a child of the server's logger bound to the request
 * id), made on pino's short path. Fastify hands its child factory an options object, empty
 * unless the route sets a log level or serializers, and pino's child() given any options object
 * rebuilds its formatters and copies the serializers on every request; a child of the root
 * logger even without options rebuilds the formatters (the root's bindings formatter is not yet
 * the children's). So requests get children of one prepared child of the server's logger,
 * without options: the same lines (no bindings of its own; level inherited, so it still follows
 * the root's), for an Object.create and the request id's JSON.
 */
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';

type ChildLoggerFactory = NonNullable<FastifyServerOptions['childLoggerFactory']>;

export function requestLoggerFactory(serverLogger: FastifyBaseLogger): ChildLoggerFactory {
  const parent = serverLogger.child({});
  return (logger, bindings, opts) =>
    logger === serverLogger && opts.level === undefined && opts.serializers === undefined
      ? parent.child(bindings)
      : logger.child(bindings, opts);
}
