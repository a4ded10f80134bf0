import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CONSOLE_ASSETS, type ConsoleAssets } from './assets.ts';

/**
 * Serves the web console: `/` (the page), `/console/app.js`, `/console/app.css` and
 * `/console/ping` (what the page probes while the server is away). These are public: the page
 * holds no data; every data call it makes goes to the operator REST API with the operator's
 * token. The files are compiled into the bundle (./assets.ts), never read from disk.
 */

/** Nothing but the console's own files may run or load; no framing (clickjacking). */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Aspire console</title></head>
<body><h1>Aspire console not built</h1><p>This server runs from source; the console is embedded
by <code>npm run build</code> into the aspire bundle.</p></body></html>`;

function common(reply: FastifyReply): FastifyReply {
  return reply
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

function sendAsset(req: FastifyRequest, reply: FastifyReply, type: string, body: string, etag: string | null) {
  common(reply).header('content-type', type).header('cache-control', 'no-cache');
  if (etag) {
    const tag = `"${etag}"`;
    reply.header('etag', tag);
    if (req.headers['if-none-match'] === tag) return reply.code(304).send();
  }
  return reply.send(body);
}

export function registerConsole(app: FastifyInstance, assets: ConsoleAssets | null = CONSOLE_ASSETS): void {
  // Documented in the OpenAPI document like every route (public: no security).
  const doc = (summary: string) => ({ schema: { tags: ['console'], summary } });
  app.get('/', doc('The web console page (public; its data calls use the operator API)'), (req, reply) => {
    common(reply).header('content-security-policy', CSP);
    return sendAsset(
      req,
      reply,
      'text/html; charset=utf-8',
      assets?.html ?? NOT_BUILT,
      assets ? `h-${assets.etag}` : null,
    );
  });
  app.get('/console/app.js', doc('The console script'), (req, reply) => {
    if (!assets) return reply.code(404).send();
    return sendAsset(req, reply, 'text/javascript; charset=utf-8', assets.js, `j-${assets.etag}`);
  });
  app.get('/console/app.css', doc('The console stylesheet'), (req, reply) => {
    if (!assets) return reply.code(404).send();
    return sendAsset(req, reply, 'text/css; charset=utf-8', assets.css, `c-${assets.etag}`);
  });
  app.get(
    '/console/ping',
    doc('204 while the server is up: what the console probes after losing it'),
    (_req, reply) => {
      common(reply).header('cache-control', 'no-store');
      return reply.code(204).send();
    },
  );
}
