/**
 * Operator tokens over REST (admin only, operator-auth.ts requiredRole): GET /token lists them
 * (name, role, scope, created, last use; never the secret or its hash), POST /token creates one
 * from the fields `aspire token create` takes (checked by token-grant.ts, the same code) and
 * answers its secret once, DELETE /token/:name revokes every token of that name at once (the
 * gate reads tokens per request). Each is audited (http/audit.ts); the secret is only in the
 * POST answer, never in the audit row or a log line.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TokenView } from '../api-types.ts';
import type { PartContext } from '../app-context.ts';
import type { OperatorStore } from '../store/operator-store.ts';
import { noteAudit } from '../http/audit.ts';
import { ok, sendError } from '../http/envelope.ts';
import { isoTime } from '../http/iso-time.ts';
import { checkScope, ROLES } from '../http/operator-scope.ts';
import { TokenCreated, TokenDeleted, TokenList } from '../http/response-schemas.ts';
import type { TokenRow } from '../store/store.ts';
import { checkGrantRequest, issueToken, LIST_FIELDS } from '../token-grant.ts';

const Entries = (description: string) =>
  Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100_000 }), { maxItems: 10_000, description }));

/** The fields of `aspire token create`; a list field takes entries that may be comma lists (a string is one entry). */
const TokenBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'who or what the token is for (the author of its tasks, the audit log name)',
    }),
    role: Type.Optional(
      Type.String({ enum: [...ROLES], default: 'admin', description: 'viewer | operator | admin (default admin)' }),
    ),
    ...Object.fromEntries(LIST_FIELDS.map((k) => [k, Entries(`--${k}: entries, each may be a comma list`)])),
    commands: Entries('--commands: one rule per entry, exact:TEXT, prefix:TEXT or regex:RE (no kind = exact)'),
  },
  { additionalProperties: false },
);
type TokenBodyT = { name: string; role?: string; commands?: string[] } & Partial<
  Record<(typeof LIST_FIELDS)[number], string[]>
>;

const NameParams = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
);

/** A token row as the API shows it: the stored scope parsed (null when unreadable), times ISO. */
function tokenView(t: TokenRow): TokenView {
  let scope: TokenView['scope'] = null;
  try {
    const r = checkScope(JSON.parse(t.scope));
    scope = r.ok ? { ...r.scope } : null;
  } catch {
    scope = null;
  }
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    scope,
    gmt_create: isoTime(t.gmt_create),
    last_used: isoTime(t.last_used),
  };
}

export async function tokenRoutes(app: FastifyInstance, ctx: PartContext<OperatorStore>): Promise<void> {
  app.get(
    '/token',
    {
      schema: {
        tags: ['token'],
        summary: 'Operator tokens: name, role, scope, created, last use; never the secret (admin)',
        response: { 200: TokenList },
      },
    },
    async (req, reply) => {
      const tokens = (await ctx.store.listTokens()).map(tokenView);
      // Who read the token list is audited, though a GET.
      noteAudit(req, { audited: true, outcome: `${tokens.length} tokens` });
      return reply.send(ok({ count: tokens.length, tokens }));
    },
  );

  app.post<{ Body: Static<typeof TokenBody> }>(
    '/token',
    {
      schema: {
        tags: ['token'],
        summary: 'Create an operator token (admin); the answer carries its secret, the only time it is shown',
        body: TokenBody,
        response: { 200: TokenCreated },
      },
    },
    async (req, reply) => {
      const b = req.body as TokenBodyT;
      const r = checkGrantRequest({ ...b, role: b.role ?? 'admin' });
      if (!r.ok) return sendError(reply, 'BAD_REQUEST', r.problems.join('; '));
      const secret = await issueToken(ctx.store, r.grant, ctx.clock.now());
      noteAudit(req, {
        selector: `token=${r.grant.name}`,
        outcome: `token ${r.grant.name} created: role ${r.grant.role}`,
      });
      return reply.send(ok({ name: r.grant.name, role: r.grant.role, scope: r.grant.scope, token: secret }));
    },
  );

  app.delete<{ Params: Static<typeof NameParams> }>(
    '/token/:name',
    {
      schema: {
        tags: ['token'],
        summary: 'Revoke every operator token with this name, effective at once (admin)',
        params: NameParams,
        response: { 200: TokenDeleted },
      },
    },
    async (req, reply) => {
      const n = await ctx.store.deleteTokens(req.params.name);
      noteAudit(req, { selector: `token=${req.params.name}`, outcome: `${n} tokens revoked` });
      if (n === 0) return sendError(reply, 'NOT_FOUND', `no token named ${JSON.stringify(req.params.name)}`);
      return reply.send(ok({ name: req.params.name, revoked: n }));
    },
  );
}
