/**
 * `aspire tree` and `aspire policy`: the desired state (docs/lifecycle.md "Desired state") from a
 * shell: the product tree, hosts attached to components, the policy of the root, a node or a
 * host, and a host's effective policy with its applied hash and drift (GET/POST/PATCH/DELETE
 * /tree..., GET/PUT/DELETE /policy/..., GET /host/:agentsn/policy).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { positiveInt, runClient, usageExit, withConnection, type ClientFlags } from './command-kit.ts';
import { UsageError } from './errors.ts';
import { json, renderTable, type Column } from './output.ts';

interface TreeNode {
  id: number;
  kind: string;
  name: string;
  parent: number | null;
  tags: string | null;
  policy: boolean;
  hosts: number;
}

/** The tree as indented lines, products first, children under their parent. */
function treeText(nodes: TreeNode[], rootPolicy: boolean): string {
  const lines = [`root${rootPolicy ? '  [policy]' : ''}`];
  const walk = (parent: number | null, depth: number) => {
    for (const n of nodes.filter((x) => x.parent === parent)) {
      const extra = [
        n.kind === 'component' ? `${n.hosts} hosts` : '',
        n.tags ? `tags ${n.tags}` : '',
        n.policy ? '[policy]' : '',
      ].filter(Boolean);
      lines.push(`${'  '.repeat(depth)}${n.id} ${n.kind} ${n.name}${extra.length ? `  ${extra.join('  ')}` : ''}`);
      walk(n.id, depth + 1);
    }
  };
  walk(null, 1);
  return `${lines.join('\n')}\n`;
}

interface LevelFlags extends ClientFlags {
  root?: boolean;
  node?: string;
  host?: string;
}

/** The route of the one level named by --root, --node ID or --host SN. */
function levelPath(f: LevelFlags): string {
  const given = [f.root ? 1 : 0, f.node !== undefined ? 1 : 0, f.host !== undefined ? 1 : 0].reduce((a, b) => a + b);
  if (given !== 1) throw new UsageError('name one level: --root, --node ID or --host AGENTSN');
  if (f.root) return '/policy/root';
  if (f.node !== undefined) return `/policy/node/${positiveInt('--node', f.node)}`;
  return `/policy/host/${encodeURIComponent(f.host!)}`;
}

const withLevel = (cmd: Command) =>
  withConnection(cmd)
    .option('--root', 'the root (global) policy')
    .option('--node <id>', 'the policy of a tree node')
    .option('--host <agentsn>', 'the policy of one host');

function readDocument(file: string): unknown {
  const text = readFileSync(file === '-' ? 0 : file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not JSON (${(err as Error).message})`);
  }
}

export function addPolicyCommands(program: Command): void {
  addTreeCommands(program);
  const policy = usageExit(program.command('policy')).description(
    "get, put or delete the policy of the root, a tree node or a host; show a host's effective policy",
  );

  withLevel(policy.command('get'))
    .description('the policy document of one level')
    .addHelpText('after', '\nExample:\n  aspire policy get --node 3')
    .action((flags: LevelFlags) =>
      runClient(flags, async ({ client, out }) => {
        const r = await client.request('GET', levelPath(flags));
        out.write(json(r.policy ?? null));
      }),
    );

  withLevel(policy.command('put'))
    .description('put the policy of one level from a JSON file ("-" reads stdin)')
    .argument('<file>')
    .addHelpText('after', '\nExample:\n  aspire policy put --node 3 web-policy.json')
    .action((file: string, flags: LevelFlags) =>
      runClient(flags, async ({ client, mode, out }) => {
        const path = levelPath(flags);
        const r = await client.request('PUT', path, { json: readDocument(file) });
        out.write(mode === 'json' ? json(r) : `policy ${String(r.scope)} saved\n`);
      }),
    );

  withLevel(policy.command('delete'))
    .description('delete the policy of one level')
    .action((flags: LevelFlags) =>
      runClient(flags, async ({ client, mode, out }) => {
        const r = await client.request('DELETE', levelPath(flags));
        out.write(mode === 'json' ? json(r) : `policy ${String(r.scope)}: ${String(r.deleted)} deleted\n`);
      }),
    );

  withConnection(policy.command('show'))
    .description("a host's effective policy: each entry with its origin, the hash it applied, its drift")
    .argument('<agentsn>')
    .addHelpText('after', '\nExample:\n  aspire policy show sn-web-1')
    .action((sn: string, flags: ClientFlags) =>
      runClient(flags, async ({ client, mode, out }) => {
        const r = await client.request('GET', `/host/${encodeURIComponent(sn)}/policy`);
        if (mode === 'json') return void out.write(json(r));
        out.write(effectiveText(r));
      }),
    );
}

type Entry = { name: string; kind: string; what: string; from: string };
const ENTRY_COLUMNS: Column<Entry>[] = [
  { head: 'KIND', cell: (e) => e.kind },
  { head: 'NAME', cell: (e) => e.name },
  { head: 'WHAT', cell: (e) => e.what },
  { head: 'FROM', cell: (e) => e.from },
];

function effectiveText(r: Record<string, unknown>): string {
  const origin = (r.origin ?? {}) as Record<string, string>;
  const subagents = (r.subagents ?? []) as { name: string; version: string }[];
  const periodic = (r.periodic ?? []) as { name: string; user: string; schedule: string; command: string }[];
  const entries: Entry[] = [
    ...subagents.map((s) => ({ kind: 'sub-agent', name: s.name, what: s.version, from: origin[s.name] ?? '' })),
    ...periodic.map((t) => ({
      kind: 'periodic',
      name: t.name,
      what: `${t.schedule} ${t.user} ${t.command}`,
      from: origin[t.name] ?? '',
    })),
  ];
  const applied = r.applied as { hash: string | null } | null;
  const drift = (r.drift ?? []) as unknown[];
  return `hash ${String(r.hash)}\napplied ${applied?.hash ?? 'never'}${r.in_sync ? ' (in sync)' : ''}\n${renderTable(ENTRY_COLUMNS, entries)}${drift.length} drift reports\n`;
}

function addTreeCommands(program: Command): void {
  const tree = usageExit(program.command('tree')).description(
    'show and change the product tree (product > service > component) and the hosts of components',
  );

  withConnection(tree.command('show'))
    .description('the tree, indented: node id, kind, name, hosts of a component, tag selector, [policy]')
    .action((flags: ClientFlags) =>
      runClient(flags, async ({ client, mode, out }) => {
        const r = await client.request('GET', '/tree');
        const nodes = r.nodes as TreeNode[];
        out.write(mode === 'json' ? json(r) : treeText(nodes, r.root_policy === true));
      }),
    );

  withConnection(tree.command('add'))
    .description('add a node: a product, a service under a product, a component under a service')
    .argument('<kind>', 'product, service or component')
    .argument('<name>')
    .option('--parent <id>', 'the parent node (services and components)')
    .option('--tags <k=v,...>', "a component's tag selector: it takes every host whose tags hold each pair")
    .addHelpText('after', '\nExample:\n  aspire tree add component db --parent 2 --tags role=db')
    .action((kind: string, name: string, flags: ClientFlags & { parent?: string; tags?: string }) =>
      runClient(flags, async ({ client, mode, out }) => {
        const body = { kind, name, parent: positiveInt('--parent', flags.parent) ?? null, tags: flags.tags };
        const r = await client.request('POST', '/tree/node', { json: body });
        const n = r.node as TreeNode;
        out.write(mode === 'json' ? json(r) : `node ${n.id}: ${n.kind} ${n.name}\n`);
      }),
    );

  withConnection(tree.command('delete'))
    .description('delete a node that has no children and no hosts (its policy goes with it)')
    .argument('<id>')
    .action((id: string, flags: ClientFlags) =>
      runClient(flags, async ({ client, mode, out }) => {
        const r = await client.request('DELETE', `/tree/node/${positiveInt('id', id)}`);
        out.write(mode === 'json' ? json(r) : `node ${id} deleted\n`);
      }),
    );

  withConnection(tree.command('attach'))
    .description('attach hosts to a component (a host belongs to one: --move takes it from another)')
    .argument('<component-id>')
    .argument('<agentsn...>')
    .option('--move', 'move hosts attached to another component')
    .addHelpText('after', '\nExample:\n  aspire tree attach 3 sn-web-1 sn-web-2')
    .action((id: string, agents: string[], flags: ClientFlags & { move?: boolean }) =>
      runClient(flags, async ({ client, mode, out }) => {
        const r = await client.request('POST', `/tree/node/${positiveInt('component-id', id)}/hosts`, {
          json: { agents, move: flags.move === true },
        });
        out.write(mode === 'json' ? json(r) : `${String(r.attached)} hosts attached to node ${id}\n`);
      }),
    );

  withConnection(tree.command('detach'))
    .description('detach a host from a component')
    .argument('<component-id>')
    .argument('<agentsn>')
    .action((id: string, sn: string, flags: ClientFlags) =>
      runClient(flags, async ({ client, mode, out }) => {
        const r = await client.request(
          'DELETE',
          `/tree/node/${positiveInt('component-id', id)}/hosts/${encodeURIComponent(sn)}`,
        );
        out.write(mode === 'json' ? json(r) : `${String(r.detached)} detached\n`);
      }),
    );
}
