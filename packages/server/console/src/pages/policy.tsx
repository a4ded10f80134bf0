import { useEffect, useState } from 'preact/hooks';
import {
  attachHosts,
  createNode,
  deleteNode,
  deletePolicy,
  detachHost,
  getEffective,
  getNode,
  getPolicy,
  getTree,
  type Level,
  type NodeKind,
  putPolicy,
  type TreeNode,
} from '../api/policy.ts';
import { EffectivePolicyView } from '../components/effective-policy.tsx';
import { SelectField, TextField } from '../components/fields.tsx';
import { ErrorNote, OkNote } from '../components/notice.tsx';
import { useAction } from '../lib/use-action.ts';
import { usePoll } from '../lib/use-poll.ts';

const PARENT_OF: Record<NodeKind, NodeKind | null> = { product: null, service: 'product', component: 'service' };

/** `#/policy/host/<agentsn>` opens that host's effective policy. */
function hostFromHash(): string {
  const [tab, what, sn] = location.hash.replace(/^#\/?/, '').split('/');
  return tab === 'policy' && what === 'host' && sn ? decodeURIComponent(sn) : '';
}

/**
 * Desired state (docs/lifecycle.md): the product tree, the policy of the root or a node, the
 * hosts of a component, and any host's effective policy with its drift.
 */
export function Policy() {
  const tree = usePoll((s) => getTree(s), [], 10_000);
  const [level, setLevel] = useState<Level>({ kind: 'root' });
  const nodes = tree.data?.nodes ?? [];
  const selected = level.kind === 'node' ? nodes.find((n) => n.id === level.id) : undefined;
  return (
    <div class="page">
      <h1>Desired state</h1>
      <ErrorNote error={tree.error} />
      <div class="cols">
        <section class="card" aria-labelledby="h-tree">
          <h2 id="h-tree">Product tree</h2>
          <ul class="tree" aria-label="Product tree">
            <li>
              <LevelButton
                label="Global (root)"
                active={level.kind === 'root'}
                hasPolicy={tree.data?.root_policy ?? false}
                onClick={() => setLevel({ kind: 'root' })}
              />
              <Children nodes={nodes} parent={null} level={level} onPick={(id) => setLevel({ kind: 'node', id })} />
            </li>
          </ul>
          <NewNode nodes={nodes} onCreated={() => tree.reload()} />
        </section>
        <section class="card" aria-labelledby="h-level">
          <h2 id="h-level">
            Policy: {level.kind === 'root' ? 'global (root)' : selected ? `${selected.kind} ${selected.name}` : '…'}
          </h2>
          <PolicyEditor
            level={level}
            onChanged={() => tree.reload()}
            key={level.kind === 'node' ? `n${level.id}` : 'root'}
          />
          {selected && (
            <NodeHosts
              node={selected}
              key={selected.id}
              onChanged={() => tree.reload()}
              onDeleted={() => {
                setLevel({ kind: 'root' });
                tree.reload();
              }}
            />
          )}
        </section>
      </div>
      <HostEffective />
    </div>
  );
}

function LevelButton(p: { label: string; active: boolean; hasPolicy: boolean; onClick: () => void }) {
  return (
    <button type="button" class={p.active ? 'link active' : 'link'} aria-pressed={p.active} onClick={p.onClick}>
      {p.label}
      {p.hasPolicy && <span class="badge badge-busy">policy</span>}
    </button>
  );
}

function Children(p: { nodes: TreeNode[]; parent: number | null; level: Level; onPick: (id: number) => void }) {
  const kids = p.nodes.filter((n) => n.parent === p.parent);
  if (kids.length === 0) return null;
  return (
    <ul>
      {kids.map((n) => (
        <li key={n.id}>
          <LevelButton
            label={`${n.kind} ${n.name}${n.kind === 'component' ? ` (${n.hosts} host${n.hosts === 1 ? '' : 's'}${n.tags ? `, tags ${n.tags}` : ''})` : ''}`}
            active={p.level.kind === 'node' && p.level.id === n.id}
            hasPolicy={n.policy}
            onClick={() => p.onPick(n.id)}
          />
          <Children {...p} parent={n.id} />
        </li>
      ))}
    </ul>
  );
}

function NewNode({ nodes, onCreated }: { nodes: TreeNode[]; onCreated: () => void }) {
  const [kind, setKind] = useState<NodeKind>('product');
  const [name, setName] = useState('');
  const [parent, setParent] = useState('');
  const [tags, setTags] = useState('');
  const create = useAction();
  const parents = nodes.filter((n) => n.kind === PARENT_OF[kind]);
  const submit = (e: Event) => {
    e.preventDefault();
    if (!name.trim()) return create.fail('A name is required.');
    void create.run(async () => {
      const r = await createNode(kind, name.trim(), parent ? Number(parent) : null, tags.trim() || undefined);
      setName('');
      setTags('');
      onCreated();
      return `Created ${r.node.kind} ${r.node.name}.`;
    }, 'Could not create the node');
  };
  return (
    <form class="form" onSubmit={submit} aria-labelledby="h-new-node">
      <h3 id="h-new-node">New node</h3>
      <SelectField label="Kind" value={kind} onValue={(v) => (setKind(v as NodeKind), setParent(''))}>
        <option value="product">product</option>
        <option value="service">service</option>
        <option value="component">component</option>
      </SelectField>
      <TextField label="Name" value={name} onValue={setName} />
      {PARENT_OF[kind] && (
        <SelectField label="Parent" value={parent} onValue={setParent}>
          <option value="">(choose a {PARENT_OF[kind]})</option>
          {parents.map((n) => (
            <option key={n.id} value={String(n.id)}>
              {n.name}
            </option>
          ))}
        </SelectField>
      )}
      {kind === 'component' && <TextField label="Tag selector" placeholder="role=web" value={tags} onValue={setTags} />}
      <ErrorNote error={create.error} />
      <OkNote text={create.done} />
      <button type="submit" disabled={create.busy}>
        Create node
      </button>
    </form>
  );
}

function PolicyEditor({ level, onChanged }: { level: Level; onChanged: () => void }) {
  const current = usePoll((s) => getPolicy(level, s), [JSON.stringify(level)]);
  const [text, setText] = useState<string | null>(null);
  const save = useAction();
  const shown = text ?? JSON.stringify(current.data?.policy?.document ?? { subagents: [], periodic: [] }, null, 2);
  const submit = (e: Event) => {
    e.preventDefault();
    let doc: unknown;
    try {
      doc = JSON.parse(shown);
    } catch (err) {
      return save.fail(`Not JSON: ${(err as Error).message}`);
    }
    void save.run(async () => {
      await putPolicy(level, doc);
      setText(null);
      current.reload();
      onChanged();
      return 'Policy saved.';
    }, 'Refused');
  };
  const remove = () =>
    save.confirmThenRun(
      'Delete the policy at this level? Hosts below fall back to what the levels above say.',
      async () => {
        await deletePolicy(level);
        setText(null);
        current.reload();
        onChanged();
        return 'Policy deleted.';
      },
      'Delete failed',
    );
  return (
    <form class="form" onSubmit={submit}>
      <ErrorNote error={current.error} />
      <label>
        Policy JSON
        <textarea
          rows={14}
          class="mono"
          spellcheck={false}
          value={shown}
          onInput={(e) => setText(e.currentTarget.value)}
        />
      </label>
      <ErrorNote error={save.error} />
      <OkNote text={save.done} />
      <div class="buttons">
        <button type="submit" disabled={save.busy}>
          Save policy
        </button>
        <button type="button" class="danger" disabled={save.busy || !current.data?.policy} onClick={remove}>
          Delete policy
        </button>
      </div>
    </form>
  );
}

function NodeHosts(p: { node: TreeNode; onChanged: () => void; onDeleted: () => void }) {
  const detail = usePoll((s) => getNode(p.node.id, s), [p.node.id]);
  const [agents, setAgents] = useState('');
  const act = useAction();
  const attach = (e: Event) => {
    e.preventDefault();
    const list = agents.split(/[\s,]+/).filter(Boolean);
    if (list.length === 0) return act.fail('Name at least one AgentSN.');
    void act.run(async () => {
      const r = await attachHosts(p.node.id, list, false);
      setAgents('');
      detail.reload();
      p.onChanged();
      return `Attached ${r.attached} host(s).`;
    }, 'Refused');
  };
  const detach = (sn: string) =>
    void act.run(async () => {
      await detachHost(p.node.id, sn);
      detail.reload();
      p.onChanged();
      return `Detached ${sn}.`;
    }, 'Detach failed');
  const remove = () =>
    act.confirmThenRun(
      `Delete ${p.node.kind} ${p.node.name}?`,
      async () => {
        await deleteNode(p.node.id);
        p.onDeleted();
      },
      'Refused',
    );
  return (
    <div class="form node-actions">
      {p.node.kind === 'component' && (
        <form onSubmit={attach} aria-labelledby="h-node-hosts">
          <h3 id="h-node-hosts">Attached hosts</h3>
          <ul>
            {(detail.data?.hosts ?? []).map((sn) => (
              <li key={sn}>
                <a href={`#/policy/host/${encodeURIComponent(sn)}`} class="mono">
                  {sn}
                </a>{' '}
                <button type="button" class="link" aria-label={`Detach ${sn}`} onClick={() => detach(sn)}>
                  detach
                </button>
              </li>
            ))}
          </ul>
          <TextField label="Attach hosts (AgentSNs)" value={agents} onValue={setAgents} size={30} />
          <button type="submit" disabled={act.busy}>
            Attach
          </button>
        </form>
      )}
      <ErrorNote error={act.error} />
      <OkNote text={act.done} />
      <button type="button" class="danger" disabled={act.busy} onClick={remove}>
        Delete node
      </button>
    </div>
  );
}

function HostEffective() {
  const [input, setInput] = useState(hostFromHash());
  const [sn, setSn] = useState(hostFromHash());
  useEffect(() => {
    const on = () => {
      const h = hostFromHash();
      if (h) setInput(h), setSn(h);
    };
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const eff = usePoll((s) => (sn ? getEffective(sn, s) : Promise.resolve(null)), [sn], 10_000);
  return (
    <section class="card" aria-labelledby="h-effective">
      <h2 id="h-effective">A host's effective policy</h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setSn(input.trim());
        }}
      >
        <TextField label="Host (AgentSN)" value={input} onValue={setInput} size={36} />
        <button type="submit">Show</button>
      </form>
      <ErrorNote error={sn ? eff.error : null} />
      {eff.data && <EffectivePolicyView eff={eff.data} />}
    </section>
  );
}
