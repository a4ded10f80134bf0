/**
 * The one JSON body parser of the server: fastify's own (empty body, bad JSON and prototype
 * poisoning refused as before), then a bound on nesting depth, so no later step (validators,
 * JSON.stringify into SQLite, fingerprints) can overflow the stack on a hostile body. A body
 * nested deeper than MAX_BODY_DEPTH is refused whole with 400.
 *
 * A status push is the exception for events[].data: the BootAgent re-sends its queued events
 * until a push is acknowledged, so refusing the whole push for one event would block that host
 * forever. An event whose data is nested deeper than MAX_EVENT_DATA_DEPTH, or serializes to
 * more than MAX_EVENT_DATA_BYTES, is kept (kind, message, ids) with its data replaced by a note
 * saying why it was dropped, and the push goes on. The rest of the push is then bounded as any
 * body.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AgentPath } from '@aspire/protocol';
import { BadRequestError } from './bad-request.ts';
import { jsonDepthExceeds } from './json-depth.ts';

/** Deepest JSON body any route accepts (a status push with agents[] and events[] needs about 6). */
export const MAX_BODY_DEPTH = 64;
/** Deepest events[].data kept (the BootAgent's own event data is 2 levels deep). */
export const MAX_EVENT_DATA_DEPTH = 32;
/** Largest events[].data kept, as JSON text. */
export const MAX_EVENT_DATA_BYTES = 16 * 1024;

export function installJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parseJson(request, body as string, (err: Error | null, value?: unknown) => {
      if (err) return done(err, undefined);
      try {
        // routeOptions is built afresh by its getter: asked only of a body that has events.
        if (hasEvents(value) && request.routeOptions.url === AgentPath.STATUS) boundEventData(request, value);
        if (jsonDepthExceeds(value, MAX_BODY_DEPTH))
          throw new BadRequestError(`JSON body nested deeper than ${MAX_BODY_DEPTH} levels`);
        done(null, value);
      } catch (e) {
        done(e as Error, undefined);
      }
    });
  });
}

/** Whether a parsed body is an object with a non-empty events array. */
function hasEvents(body: unknown): body is { events: unknown[] } {
  if (body === null || typeof body !== 'object') return false;
  const { events } = body as { events?: unknown };
  return Array.isArray(events) && events.length > 0;
}

/** Replace the data of each event that is too deep or too large with a note (see above). */
function boundEventData(request: FastifyRequest, body: { events: unknown[] }): void {
  for (const event of body.events) {
    if (event === null || typeof event !== 'object' || !('data' in event)) continue;
    const why = dataTooBig((event as { data: unknown }).data);
    if (why === undefined) continue;
    (event as { data: unknown }).data = { dataDropped: why };
    const { agentsn } = body as { agentsn?: unknown };
    const { localid } = event as { localid?: unknown };
    // What the client sent, cut short: a log line is no place for a megabyte of it.
    request.log.warn(
      { agentsn: String(agentsn).slice(0, 64), localid: String(localid).slice(0, 20), why },
      'event data dropped',
    );
  }
}

function dataTooBig(data: unknown): string | undefined {
  if (jsonDepthExceeds(data, MAX_EVENT_DATA_DEPTH)) return `data nested deeper than ${MAX_EVENT_DATA_DEPTH} levels`;
  // Bounded depth: stringify cannot overflow the stack now.
  if (Buffer.byteLength(JSON.stringify(data) ?? '') > MAX_EVENT_DATA_BYTES)
    return `data larger than ${MAX_EVENT_DATA_BYTES} bytes`;
  return undefined;
}
