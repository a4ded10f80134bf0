/** `aspire audit [--token NAME] [--route R] [--host SN] [--since T] [--until T] [--limit N]`: GET /audit (admin). */
import type { Command } from 'commander';
import type { AuditRecord } from '../api-types.ts';
import { positiveInt, runClient, unixSeconds, withConnection, type ClientFlags } from './command-kit.ts';
import { json, renderTable, when, type Column } from './output.ts';

interface AuditFlags extends ClientFlags {
  tokenName?: string;
  route?: string;
  host?: string;
  since?: string;
  until?: string;
  limit?: string;
}

/** An audit row as GET /audit answers it (times ISO 8601 UTC, as every time in the REST API). */
type AuditRow = AuditRecord;

const COLUMNS: Column<AuditRow>[] = [
  { head: 'AT', cell: (r) => when(r.at) },
  { head: 'PHASE', cell: (r) => r.phase },
  { head: 'TOKEN', cell: (r) => r.token },
  { head: 'SOURCE', cell: (r) => r.source },
  { head: 'REQUEST', cell: (r) => `${r.method} ${r.route}` },
  { head: 'TARGETS', cell: (r) => [r.targets, r.selector].filter((x) => x !== null).join(' ') },
  { head: 'COMMAND', cell: (r) => (r.command === null ? '' : r.run_as ? `${r.command} (as ${r.run_as})` : r.command) },
  { head: 'CODE', cell: (r) => r.code },
  { head: 'OUTCOME', cell: (r) => r.outcome },
];

export function addAuditCommand(program: Command): void {
  withConnection(program.command('audit'))
    .description('read the audit log (admin token): who did what, where, with what outcome')
    .option('--token-name <name>', 'rows of this operator token (by name)')
    .option('--route <route>', 'rows of this route, e.g. /api/v1/server/polaris')
    .option('--host <agentsn>', 'rows whose host selector names this host')
    .option('--since <time>', 'unix seconds or ISO time, inclusive')
    .option('--until <time>', 'unix seconds or ISO time, inclusive')
    .option('--limit <n>', 'at most this many rows, newest first (default 100)', '100')
    .addHelpText(
      'after',
      '\nExamples:\n  aspire audit --route /api/v1/server/polaris --since 2026-12-01T00:00:00Z\n  aspire audit --token-name alice -o json',
    )
    .action((flags: AuditFlags) =>
      runClient(flags, async ({ client, mode, out }) => {
        const limit = positiveInt('--limit', flags.limit, 100_000)!;
        const query = {
          token: flags.tokenName,
          route: flags.route,
          agentsn: flags.host,
          since: unixSeconds('--since', flags.since),
          until: unixSeconds('--until', flags.until),
          order: 'desc',
          sortby: 'id',
        };
        const { count, items } = await client.all<AuditRow>('/audit', 'audit', query, limit);
        out.write(
          mode === 'json'
            ? json({ count, audit: items })
            : `${renderTable(COLUMNS, items)}${items.length} of ${count} rows\n`,
        );
      }),
    );
}
