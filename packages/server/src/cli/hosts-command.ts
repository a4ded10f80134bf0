/** `aspire hosts [--tag k=v] [--region ID|NAME] [--status S] [--search P]`: GET /host, every page. */
import type { Command } from 'commander';
import { HostStatus } from '@aspire/protocol';
import type { ApiClient } from './api-client.ts';
import { runClient, tagSelector, withConnection, type ClientFlags } from './command-kit.ts';
import { UsageError } from './errors.ts';
import { json, renderTable, when, type Column } from './output.ts';

export interface HostRow {
  agentsn: string;
  hostname: string;
  status: string;
  region: number;
  region_name: string | null;
  tags: string[];
  reported_tags: string;
  os: string | null;
  arch: string | null;
  curvers: string | null;
  last_seen: number | null;
}

interface HostsFlags extends ClientFlags {
  tag?: string;
  region?: string;
  status?: string;
  search?: string;
}

const STATUSES: readonly string[] = Object.values(HostStatus);

/** A region by id, or by name (looked up in GET /region). */
export async function regionId(client: ApiClient, v: string | undefined): Promise<number | undefined> {
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  const { items } = await client.all<{ id: number; name: string }>('/region', 'regions');
  const r = items.find((x) => x.name === v);
  if (!r)
    throw new UsageError(
      `--region ${JSON.stringify(v)}: no such region (known: ${items.map((x) => x.name).join(', ') || 'none'})`,
    );
  return r.id;
}

const COLUMNS: Column<HostRow>[] = [
  { head: 'AGENTSN', cell: (h) => h.agentsn },
  { head: 'HOSTNAME', cell: (h) => h.hostname },
  { head: 'STATUS', cell: (h) => h.status },
  { head: 'REGION', cell: (h) => h.region_name ?? h.region },
  { head: 'TAGS', cell: (h) => [...new Set([...h.tags, ...h.reported_tags.split(',').filter(Boolean)])].join(',') },
  { head: 'OS/ARCH', cell: (h) => [h.os, h.arch].filter(Boolean).join('/') },
  { head: 'VERSION', cell: (h) => h.curvers },
  { head: 'LAST SEEN', cell: (h) => when(h.last_seen) },
];

export function addHostsCommand(program: Command): void {
  withConnection(program.command('hosts'))
    .description('list hosts, filtered by tag, region and status')
    .option('--tag <k=v>', 'hosts with this tag (bound on the server or reported)')
    .option('--region <id|name>', 'hosts in this region')
    .option('--status <status>', `one of ${STATUSES.join(' ')}`)
    .option('--search <prefix>', 'hostname or AgentSN prefix (case-insensitive)')
    .addHelpText(
      'after',
      "\nExamples:\n  aspire hosts --tag role=web --status online\n  aspire hosts -o json | jq -r '.hosts[].hostname'",
    )
    .action((flags: HostsFlags) =>
      runClient(flags, async ({ client, mode, out }) => {
        if (flags.status !== undefined && !STATUSES.includes(flags.status))
          throw new UsageError(`--status ${JSON.stringify(flags.status)}: one of ${STATUSES.join(' ')}`);
        const query = {
          tag: tagSelector('--tag', flags.tag),
          region: await regionId(client, flags.region),
          status: flags.status,
          search: flags.search,
        };
        const { count, items } = await client.all<HostRow>('/host', 'hosts', query);
        out.write(mode === 'json' ? json({ count, hosts: items }) : `${renderTable(COLUMNS, items)}${count} hosts\n`);
      }),
    );
}
