/**
 * No Infinity past the edge. ajv's type coercion (coerceTypes, for query strings and bodies)
 * turns the strings "Infinity", "-Infinity" and "1e400" into non-finite numbers and then skips
 * `minimum`/`maximum` for them, so `?region=Infinity` or `{"delay": "1e400"}` passed a schema
 * that bounds the value. After validation this hook looks at what the schema produced (query,
 * path parameters, body of schema-validated routes) and refuses a non-finite number with 400
 * naming where it was. The agent endpoints validate with @aspire/protocol, which does not
 * coerce, and are skipped.
 */
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { BadRequestError } from './bad-request.ts';

const checkFinite: preHandlerAsyncHookHandler = async (request: FastifyRequest) => {
  for (const [where, value] of [
    ['querystring', request.query],
    ['params', request.params],
    ['body', request.body],
  ] as const) {
    const at = nonFiniteAt(value);
    if (at !== undefined) throw new BadRequestError(`${where}${at} must be a finite number`);
  }
};

/**
 * The check as a pre-handler of each route registered from now on (here or in any plugin) whose
 * url is not under /agent/: a route hook, not a global one, so an agent request (every status
 * push) does not run it even to be skipped. Call before the routes are registered.
 */
export function installFiniteNumberCheck(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/agent/')) return;
    const own = route.preHandler === undefined ? [] : [route.preHandler].flat();
    // A HEAD route made from a GET one comes here with the GET's hooks, this one among them.
    if (!own.includes(checkFinite)) route.preHandler = [checkFinite, ...own];
  });
}

/** The path (`/a/0/b`) of the first non-finite number in a parsed value, without recursion. */
export function nonFiniteAt(value: unknown): string | undefined {
  const stack: { v: unknown; path: string }[] = [{ v: value, path: '' }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return path;
    } else if (
      v !== null &&
      typeof v === 'object' &&
      !Buffer.isBuffer(v) &&
      typeof (v as { pipe?: unknown }).pipe !== 'function'
    ) {
      for (const [k, child] of Object.entries(v)) stack.push({ v: child, path: `${path}/${k}` });
    }
  }
  return undefined;
}
