/**
 * An operator token's grant as `aspire token create` and `POST /api/v1/server/token` take it:
 * name, role and the scope lists, checked once into typed values (every problem listed), and the
 * one way a token is issued (a new secret, only its SHA-256 stored). Shared by the server-side
 * CLI (token-cli.ts), the REST route (routes/tokens.ts) and the client CLI (cli/token-command.ts).
 */
import { checkScope, isRole, parseCommandRule, ROLES, type OperatorScope, type Role } from './http/operator-scope.ts';
import { newOperatorToken, sha256Hex } from './http/secrets.ts';
import type { Store } from './store/store.ts';

export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

/** The scope lists: each entry may itself be a comma list (`--tags a=1,b=2`, repeated or not). */
export const LIST_FIELDS = ['tags', 'regions', 'agentsn', 'users', 'groups', 'sources', 'allow', 'cidrs'] as const;

export interface GrantRequest {
  name: string;
  role: string;
  tags?: readonly string[] | undefined;
  regions?: readonly string[] | undefined;
  agentsn?: readonly string[] | undefined;
  users?: readonly string[] | undefined;
  groups?: readonly string[] | undefined;
  sources?: readonly string[] | undefined;
  allow?: readonly string[] | undefined;
  cidrs?: readonly string[] | undefined;
  /** One rule per entry (`exact:TEXT`, `prefix:TEXT`, `regex:RE`; no kind = exact); never split on commas. */
  commands?: readonly string[] | undefined;
}

export interface Grant {
  name: string;
  role: Role;
  scope: OperatorScope;
}

/** Problems are named by field (`role: ...`, `tags: ...`); the CLI puts `--` in front. */
export function checkGrantRequest(req: GrantRequest): { ok: true; grant: Grant } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  if (!isRole(req.role)) problems.push(`role: must be one of ${ROLES.join(' ')}`);
  if (!TOKEN_NAME.test(req.name)) problems.push('name: letters, digits and . _ @ - (at most 128)');
  const raw: Record<string, unknown> = {};
  for (const k of LIST_FIELDS) {
    const v = req[k];
    if (v !== undefined)
      raw[k] = v
        .flatMap((x) => x.split(','))
        .map((x) => x.trim())
        .filter(Boolean);
  }
  if (req.commands?.length) raw.commands = req.commands.map(parseCommandRule);
  const r = checkScope(raw);
  if (!r.ok) problems.push(...r.problems);
  if (problems.length || !r.ok || !isRole(req.role)) return { ok: false, problems };
  return { ok: true, grant: { name: req.name, role: req.role, scope: r.scope } };
}

/** Store a new token for this grant; the secret is returned once and kept nowhere. */
export async function issueToken(store: Pick<Store, 'createToken'>, grant: Grant, now: number): Promise<string> {
  const secret = newOperatorToken();
  await store.createToken(grant.name, sha256Hex(secret), now, { role: grant.role, scope: JSON.stringify(grant.scope) });
  return secret;
}
