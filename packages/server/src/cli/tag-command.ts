/** `aspire tag list|create|delete|bind|unbind`: the server-side tags (GET/POST/DELETE /tag, /tag/bind, /tag/unbind). */
import { Command } from 'commander';
import type { ApiClient } from './api-client.ts';
import { runClient, usageExit, withConnection, type ClientFlags } from './command-kit.ts';
import { UsageError } from './errors.ts';
import { json, renderTable, when, type Column } from './output.ts';

interface TagRow {
  id: number;
  name: string;
  value: string;
  hosts: number;
  gmt_create: number;
}

const COLUMNS: Column<TagRow>[] = [
  { head: 'ID', cell: (t) => t.id },
  { head: 'TAG', cell: (t) => `${t.name}=${t.value}` },
  { head: 'HOSTS', cell: (t) => t.hosts },
  { head: 'CREATED', cell: (t) => when(t.gmt_create) },
];

function splitTag(v: string): { name: string; value: string } {
  const m = /^([^=,]+)=([^=,]*)$/.exec(v);
  if (!m) throw new UsageError(`tag ${JSON.stringify(v)}: name=value`);
  return { name: m[1]!, value: m[2]! };
}

/** The tag row of name=value, or undefined. */
async function findTag(client: ApiClient, v: string): Promise<TagRow | undefined> {
  const { name, value } = splitTag(v);
  const { items } = await client.all<TagRow>('/tag', 'tags', { name });
  return items.find((t) => t.name === name && t.value === value);
}

export function addTagCommands(program: Command): void {
  const tag = usageExit(program.command('tag')).description(
    'list, create, delete, bind and unbind server-side host tags',
  );

  withConnection(tag.command('list'))
    .description('tags with the number of hosts bound')
    .option('--name <name>', 'only tags with this name')
    .addHelpText('after', '\nExample:\n  aspire tag list --name role')
    .action((flags: ClientFlags & { name?: string }) =>
      runClient(flags, async ({ client, mode, out }) => {
        const { count, items } = await client.all<TagRow>('/tag', 'tags', { name: flags.name });
        out.write(mode === 'json' ? json({ count, tags: items }) : `${renderTable(COLUMNS, items)}${count} tags\n`);
      }),
    );

  withConnection(tag.command('create'))
    .description('create a tag')
    .argument('<name=value>')
    .addHelpText('after', '\nExample:\n  aspire tag create role=web')
    .action((v: string, flags: ClientFlags) =>
      runClient(flags, async ({ client, mode, out }) => {
        const r = await client.request('POST', '/tag', { json: splitTag(v) });
        const t = r.tag as TagRow;
        out.write(mode === 'json' ? json({ tag: t }) : `tag ${t.id}: ${t.name}=${t.value}\n`);
      }),
    );

  withConnection(tag.command('delete'))
    .description('delete a tag and its bindings')
    .argument('<name=value>')
    .addHelpText('after', '\nExample:\n  aspire tag delete role=web')
    .action((v: string, flags: ClientFlags) =>
      runClient(flags, async ({ client, mode, out }) => {
        const t = await findTag(client, v);
        if (!t) throw new UsageError(`no tag ${v}`);
        const r = await client.request('DELETE', '/tag', { query: { id: t.id } });
        out.write(mode === 'json' ? json({ tag: t, deleted: r.deleted ?? 1 }) : `deleted tag ${t.id}: ${v}\n`);
      }),
    );

  for (const verb of ['bind', 'unbind'] as const) {
    withConnection(tag.command(verb))
      .description(
        verb === 'bind' ? 'bind a tag to hosts (the tag is created if it does not exist)' : 'unbind a tag from hosts',
      )
      .argument('<name=value>')
      .argument('<agentsn...>', 'hosts by AgentSN')
      .addHelpText('after', `\nExample:\n  aspire tag ${verb} role=web sn-web-1 sn-web-2`)
      .action((v: string, agents: string[], flags: ClientFlags) =>
        runClient(flags, async ({ client, mode, out }) => {
          let t = await findTag(client, v);
          if (!t && verb === 'bind') t = (await client.request('POST', '/tag', { json: splitTag(v) })).tag as TagRow;
          if (!t) throw new UsageError(`no tag ${v}`);
          const r = await client.request('POST', `/tag/${verb}`, { json: { id: t.id, agents } });
          const unknown = (r.unknown as string[] | undefined) ?? [];
          if (mode === 'json') return void out.write(json({ tag: t, changed: r.changed, unknown }));
          out.write(
            `${v}: ${String(r.changed)} hosts ${verb === 'bind' ? 'bound' : 'unbound'}${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}\n`,
          );
          return unknown.length ? 1 : 0;
        }),
      );
  }
}
