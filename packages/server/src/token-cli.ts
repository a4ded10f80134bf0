/**
 * `aspire token create|list|revoke`: operator tokens with a role and a scope (docs/server.md,
 * docs/security.md). The token is printed once, at creation; the database keeps its SHA-256.
 * They work while the server runs (SQLite WAL, or PostgreSQL when the config file's `store` or
 * ASPIRE_DATABASE_URL selects it) and need no lock; the server reads tokens per request, so a
 * revoke takes effect at once.
 */
import type { Command } from 'commander';
import { ConfigError, readConfigObject } from '@aspire/agent-core';
import { checkConfig } from './config.ts';
import { checkScope, describeScope, ROLES } from './http/operator-scope.ts';
import { checkGrantRequest, issueToken, type Grant } from './token-grant.ts';
import { configuredUrl } from './cli/client-config.ts';
import { withConnection, type ClientFlags } from './cli/command-kit.ts';
import { remoteTokenCreate, remoteTokenList, remoteTokenRevoke } from './cli/token-command.ts';
import { checkStoreConfig, DB_FILE, openStore, withStoreEnv, type OpenedStore } from './store/open-store.ts';

export { DB_FILE };

interface TokenFlags extends ClientFlags {
  dataDir?: string;
  config?: string;
}

/**
 * Where a token command works: the local store when --data-dir, --config or
 * ASPIRE_DATABASE_URL names one, else the running server named by --url, ASPIRE_URL or cli.json
 * (cli/token-command.ts, docs/cli.md "token").
 */
function onServer(opts: TokenFlags): boolean {
  if (opts.dataDir || opts.config || process.env.ASPIRE_DATABASE_URL) return false;
  if (configuredUrl(opts) !== undefined) return true;
  throw new ConfigError('flags', [
    '--data-dir: required (or --config naming a file with dataDir) on the server machine; or --url (ASPIRE_URL, cli.json "url") for a running server',
  ]);
}

interface CreateFlags extends TokenFlags {
  name: string;
  role: string;
  tags?: string;
  regions?: string;
  agentsn?: string;
  commands?: string[];
  users?: string;
  groups?: string;
  sources?: string;
  allow?: string;
  cidrs?: string;
}

/** The data dir of a token command: --data-dir, else the config file's dataDir. */
function tokenDataDir(opts: TokenFlags): string {
  if (opts.dataDir) return opts.dataDir;
  if (opts.config) return checkConfig(readConfigObject(opts.config), opts.config).config.dataDir;
  throw new ConfigError('flags', ['--data-dir: required (or --config naming a file with dataDir)']);
}

/**
 * The store of a token command: the config file's `store` (or ASPIRE_DATABASE_URL) selects
 * PostgreSQL; otherwise the SQLite file in the data dir.
 */
async function tokenStore(opts: TokenFlags): Promise<OpenedStore['store']> {
  const env = {
    ASPIRE_DATABASE_URL: process.env.ASPIRE_DATABASE_URL,
    ASPIRE_DATABASE_PASSWORD: process.env.ASPIRE_DATABASE_PASSWORD,
  };
  const rawStore = withStoreEnv(opts.config ? readConfigObject(opts.config).store : undefined, env);
  const problems: string[] = [];
  const store = checkStoreConfig(rawStore, problems);
  if (problems.length) throw new ConfigError(opts.config ?? 'ASPIRE_DATABASE_URL', problems);
  const dataDir = store.kind === 'postgres' && !opts.dataDir && !opts.config ? '' : tokenDataDir(opts);
  return (await openStore({ dataDir, store }, env)).store;
}

/** The flags of `token create` as a checked grant (checkGrantRequest, shared with the REST route), every problem listed. */
export function grantFromFlags(opts: CreateFlags): Grant {
  const one = (v: string | undefined) => (v === undefined ? undefined : [v]);
  const r = checkGrantRequest({
    name: opts.name,
    role: opts.role,
    tags: one(opts.tags),
    regions: one(opts.regions),
    agentsn: one(opts.agentsn),
    users: one(opts.users),
    groups: one(opts.groups),
    sources: one(opts.sources),
    allow: one(opts.allow),
    cidrs: one(opts.cidrs),
    commands: opts.commands,
  });
  if (!r.ok)
    throw new ConfigError(
      'flags',
      r.problems.map((p) => `--${p}`),
    );
  return r.grant;
}

async function tokenCreate(opts: CreateFlags): Promise<void> {
  if (onServer(opts)) return remoteTokenCreate(opts as CreateFlags & Record<string, unknown>);
  const grant = grantFromFlags(opts);
  const store = await tokenStore(opts);
  try {
    const token = await issueToken(store, grant, Date.now());
    // The only time the token is shown: stdout, alone on its line. The rest goes to stderr.
    process.stdout.write(`${token}\n`);
    process.stderr.write(`aspire: token ${grant.name}: role ${grant.role}, ${describeScope(grant.scope)}\n`);
  } finally {
    await store.close();
  }
}

async function tokenList(opts: TokenFlags): Promise<void> {
  if (onServer(opts)) return remoteTokenList(opts);
  const store = await tokenStore(opts);
  try {
    for (const t of await store.listTokens()) {
      const used = t.last_used === null ? 'never used' : `last used ${new Date(t.last_used).toISOString()}`;
      let scope: string;
      try {
        const r = checkScope(JSON.parse(t.scope));
        scope = r.ok ? describeScope(r.scope) : `unreadable scope (${r.problems.join('; ')})`;
      } catch {
        scope = 'unreadable scope';
      }
      // Name, created and use first (as before roles existed), then role and scope.
      process.stdout.write(
        `${t.name}\tcreated ${new Date(t.gmt_create).toISOString()}\t${used}\trole ${t.role}\t${scope}\n`,
      );
    }
  } finally {
    await store.close();
  }
}

async function tokenRevoke(opts: TokenFlags & { name: string }): Promise<void> {
  if (onServer(opts)) return remoteTokenRevoke(opts);
  const store = await tokenStore(opts);
  try {
    const n = await store.deleteTokens(opts.name);
    process.stdout.write(`revoked ${n} token(s) named ${opts.name}\n`);
    if (n === 0) process.exitCode = 1;
  } finally {
    await store.close();
  }
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function addTokenCommands(p: Command): void {
  const token = p
    .command('token')
    .description(
      'operator tokens: on the server machine (--data-dir) or through a running server (--url, ASPIRE_URL, cli.json)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  aspire token create --data-dir /var/lib/aspire --name alice --role operator --tags role=web\n  aspire token create --url https://aspire.example:8180 --name ci --role viewer   (admin token from ASPIRE_TOKEN or cli.json)\n  aspire token list -o json\n  aspire token revoke --name ci',
    );
  // Each verb works on a local data dir (--data-dir, --config) or, without one, on the server named
  // by --url / ASPIRE_URL / cli.json (an admin token; docs/cli.md "token").
  withConnection(token.command('create'))
    .description('create an operator token and print it once (stored hashed); flags limit what it may do')
    .option('--data-dir <dir>', 'the server data dir')
    .option('-c, --config <file>', 'take the data dir from this server config file')
    .requiredOption(
      '--name <name>',
      'who or what the token is for (recorded as the author of its tasks and in the audit log)',
    )
    .option(
      '--role <role>',
      `${ROLES.join(' | ')}: viewer reads, operator runs commands and tasks in scope, admin everything`,
      'admin',
    )
    .option('--tags <k=v,...>', 'hosts: those carrying one of these tags')
    .option('--regions <id|name,...>', 'hosts: those in one of these regions')
    .option('--agentsn <sn,...>', 'hosts: these AgentSNs')
    .option(
      '--commands <rule>',
      'allowed command, repeatable: exact:TEXT, prefix:TEXT, regex:RE (whole command); no kind = exact',
      collect,
    )
    .option('--users <user,...>', 'allowed run-as users (sync.bash default is root)')
    .option(
      '--groups <group,...>',
      'allowed run-as groups (sync.bash group); without it, --users allows no explicit group',
    )
    .option(
      '--sources <prefix,...>',
      'allowed package sources of install/upgrade tasks: URL prefixes ending at "/" or schemes (command:// only when listed)',
    )
    .option('--allow <part,...>', 'with --commands or --sources: task parts allowed explicitly: envs, config')
    .option('--cidrs <cidr,...>', 'allowed source addresses')
    .action(tokenCreate);
  withConnection(token.command('list'))
    .description('list operator tokens: name, created, last use, role, scope (never the tokens)')
    .option('--data-dir <dir>', 'the server data dir')
    .option('-c, --config <file>', 'take the data dir from this server config file')
    .action(tokenList);
  withConnection(token.command('revoke'))
    .description('delete every operator token with this name; takes effect at once, also on a running server')
    .option('--data-dir <dir>', 'the server data dir')
    .option('-c, --config <file>', 'take the data dir from this server config file')
    .requiredOption('--name <name>', 'the token name given at create')
    .action(tokenRevoke);
}
