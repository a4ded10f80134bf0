/**
 * `aspire token create|list|revoke` against a running server (GET/POST /token, DELETE
 * /token/:name; an admin token). The same verbs work on a local data dir (token-cli.ts, with
 * --data-dir, --config or ASPIRE_DATABASE_URL); without those they go to the server named by
 * --url, ASPIRE_URL or cli.json (docs/cli.md "token"). The flags of create are checked here with
 * the server's own code (token-grant.ts) before anything is sent, and again by the server.
 * The new secret is printed once, alone on stdout (a JSON document only with an explicit
 * `-o json`); it is never in an error line.
 */
import type { TokenView } from '../api-types.ts';
import { describeScope, type OperatorScope } from '../http/operator-scope.ts';
import { checkGrantRequest, type GrantRequest } from '../token-grant.ts';
import { runClient, type ClientFlags } from './command-kit.ts';
import { UsageError } from './errors.ts';
import { json, renderTable, when, type Column } from './output.ts';

/** A token as GET /token answers it. */
type TokenRow = TokenView;

const COLUMNS: Column<TokenRow>[] = [
  { head: 'NAME', cell: (t) => t.name },
  { head: 'ROLE', cell: (t) => t.role },
  { head: 'CREATED', cell: (t) => when(t.gmt_create) },
  { head: 'LAST USED', cell: (t) => (t.last_used === null ? 'never' : when(t.last_used)) },
  { head: 'SCOPE', cell: (t) => (t.scope === null ? 'unreadable' : describeScope(t.scope as OperatorScope)) },
];

/** create's flags as the POST body: what checkGrantRequest takes, each flag one entry. */
export function createBody(flags: Record<string, unknown> & { name: string; role: string }): GrantRequest {
  const body: GrantRequest = { name: flags.name, role: flags.role };
  for (const k of ['tags', 'regions', 'agentsn', 'users', 'groups', 'sources', 'allow', 'cidrs'] as const) {
    const v = flags[k];
    if (typeof v === 'string') body[k] = [v];
  }
  // commander collects the repeatable --command as strings.
  if (Array.isArray(flags.commands) && flags.commands.length) body.commands = flags.commands.map(String);
  return body;
}

export function remoteTokenCreate(
  flags: ClientFlags & Record<string, unknown> & { name: string; role: string },
): Promise<void> {
  return runClient(flags, async ({ client, out, err }) => {
    const body = createBody(flags);
    const checked = checkGrantRequest(body);
    if (!checked.ok) throw new UsageError(checked.problems.map((p) => `--${p}`).join('; '));
    const a = await client.request('POST', '/token', { json: body });
    if (flags.output === 'json') {
      out.write(json({ name: a.name, role: a.role, scope: a.scope, token: a.token }));
      return;
    }
    // The only time the token is shown: stdout, alone on its line (as the local create).
    out.write(`${String(a.token)}\n`);
    err.write(
      `aspire: token ${checked.grant.name}: role ${checked.grant.role}, ${describeScope(checked.grant.scope)} (on ${client.url})\n`,
    );
  });
}

export function remoteTokenList(flags: ClientFlags): Promise<void> {
  return runClient(flags, async ({ client, mode, out }) => {
    const a = await client.request('GET', '/token');
    const tokens = (a.tokens as TokenRow[] | undefined) ?? [];
    out.write(
      mode === 'json'
        ? json({ count: tokens.length, tokens })
        : `${renderTable(COLUMNS, tokens)}${tokens.length} tokens\n`,
    );
  });
}

export function remoteTokenRevoke(flags: ClientFlags & { name: string }): Promise<void> {
  return runClient(flags, async ({ client, mode, out }) => {
    const a = await client.request('DELETE', `/token/${encodeURIComponent(flags.name)}`);
    out.write(
      mode === 'json'
        ? json({ name: a.name, revoked: a.revoked })
        : `revoked ${String(a.revoked)} token(s) named ${flags.name}\n`,
    );
  });
}
