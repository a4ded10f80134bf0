// The per-request logger factory: its children write the lines pino's own child with fastify's
// options writes (bindings, level names, redaction), follow the root's level, and a route's own
// log level still gets pino's full child.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { requestLoggerFactory } from '../src/http/request-logger.ts';

function rootLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      const { time: _t, ...rest } = JSON.parse(String(chunk)) as Record<string, unknown>;
      lines.push(rest);
      done();
    },
  });
  const logger = pino(
    {
      name: 'aspire',
      level: 'info',
      redact: { paths: ['credential'], censor: '[redacted]' },
      base: { pid: 1 },
      formatters: { level: (label) => ({ level: label }) },
    },
    sink,
  );
  return { logger: logger as unknown as FastifyBaseLogger, lines };
}

describe('requestLoggerFactory', () => {
  it("writes what pino's child with fastify's empty options writes", () => {
    const { logger, lines } = rootLogger();
    const factory = requestLoggerFactory(logger);
    const fast = factory.call(undefined as never, logger, { reqId: 'req-1' }, {}, undefined as never);
    const full = logger.child({ reqId: 'req-1' }, {});
    fast.warn({ agentsn: 'a', credential: 'secret' }, 'event data dropped');
    full.warn({ agentsn: 'a', credential: 'secret' }, 'event data dropped');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toEqual(lines[1]);
    expect(lines[0]).toMatchObject({ level: 'warn', reqId: 'req-1', credential: '[redacted]', name: 'aspire' });
  });

  it("follows the root's level and honours a route's own level", () => {
    const { logger, lines } = rootLogger();
    const factory = requestLoggerFactory(logger);
    const child = factory.call(undefined as never, logger, { reqId: 'req-2' }, {}, undefined as never);
    child.debug('hidden');
    logger.level = 'debug';
    child.debug('shown');
    const quiet = factory.call(undefined as never, logger, { reqId: 'req-3' }, { level: 'error' }, undefined as never);
    quiet.warn('hidden too');
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
  });
});
