import { useState } from 'preact/hooks';
import { bindTag, createTag, deleteTag, listTags } from '../api/endpoints.ts';
import type { Tag } from '../api/types.ts';
import { DataTable } from '../components/data-table.tsx';
import { TextField } from '../components/fields.tsx';
import { HostPicker } from '../components/host-picker.tsx';
import { ListCard } from '../components/list-card.tsx';
import { LocalTime } from '../components/local-time.tsx';
import { ErrorNote, OkNote } from '../components/notice.tsx';
import { useAction } from '../lib/use-action.ts';
import { useListView } from '../lib/use-list-view.ts';
import { usePoll } from '../lib/use-poll.ts';

export function Tags() {
  const view = useListView(50);
  const [editing, setEditing] = useState<Tag | null>(null);
  const del = useAction();
  const tags = usePoll(
    (s) =>
      listTags(
        { offset: view.offset, limit: view.limit, order: 'asc', sortby: 'name', name: view.filter.trim() || undefined },
        s,
      ),
    [view.offset, view.limit, view.filter],
  );

  const remove = (t: Tag) => {
    del.confirmThenRun(
      `Delete tag ${t.name}=${t.value}? It is unbound from ${t.hosts} host(s).`,
      async () => {
        await deleteTag(t.id);
        if (editing?.id === t.id) setEditing(null);
        tags.reload();
      },
      'Delete failed',
    );
  };

  return (
    <div class="page">
      <h1>Tags</h1>
      <ListCard
        headingId="h-tags"
        title="Tags"
        filterLabel="Filter by key"
        view={view}
        count={tags.data?.count ?? 0}
        error={tags.error ?? del.error}
      >
        <DataTable
          labelledBy="h-tags"
          columns={['Key', 'Value', 'Bound hosts', 'Updated', { hidden: 'Actions' }]}
          rows={tags.data?.tags}
          empty="No tags yet."
          row={(t) => (
            <tr class={editing?.id === t.id ? 'row-open' : undefined}>
              <th scope="row">{t.name}</th>
              <td>{t.value}</td>
              <td aria-label={`Hosts bound to ${t.name}=${t.value}`}>{t.hosts}</td>
              <td>
                <LocalTime value={t.gmt_modify} />
              </td>
              <td class="actions">
                <button
                  type="button"
                  onClick={() => setEditing(t)}
                  aria-label={`Bind or unbind hosts for ${t.name}=${t.value}`}
                >
                  Hosts…
                </button>
                <button
                  type="button"
                  class="danger"
                  onClick={() => remove(t)}
                  aria-label={`Delete tag ${t.name}=${t.value}`}
                >
                  Delete
                </button>
              </td>
            </tr>
          )}
        />
      </ListCard>
      <div class="cols">
        <CreateTag onCreated={() => tags.reload()} />
        {editing && <BindForm tag={editing} onChanged={() => tags.reload()} onClose={() => setEditing(null)} />}
      </div>
    </div>
  );
}

function CreateTag({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const create = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    if (!name.trim() || !value.trim()) return create.fail('Key and value are both required.');
    void create.run(async () => {
      await createTag(name.trim(), value.trim());
      setName('');
      setValue('');
      onCreated();
    }, 'Could not create the tag');
  };
  return (
    <form class="card form" onSubmit={submit} aria-labelledby="h-create-tag">
      <h2 id="h-create-tag">Create a tag</h2>
      <TextField label="Key" value={name} onValue={setName} />
      <TextField label="Value" value={value} onValue={setValue} />
      <ErrorNote error={create.error} />
      <button type="submit" disabled={create.busy}>
        Create tag
      </button>
    </form>
  );
}

function BindForm({ tag, onChanged, onClose }: { tag: Tag; onChanged: () => void; onClose: () => void }) {
  const [hosts, setHosts] = useState<string[]>([]);
  const bind = useAction();
  const label = `${tag.name}=${tag.value}`;
  const run = (on: boolean) => {
    if (hosts.length === 0) return bind.fail('Choose at least one host.');
    void bind.run(
      async () => {
        const r = await bindTag(tag.id, hosts, on);
        const unknown = r.unknown?.length ? ` Unknown: ${r.unknown.join(', ')}.` : '';
        setHosts([]);
        onChanged();
        return `${on ? 'Bound' : 'Unbound'} ${r.changed} host(s).${unknown}`;
      },
      `Could not ${on ? 'bind' : 'unbind'}`,
    );
  };
  return (
    <form class="card form" onSubmit={(e) => e.preventDefault()} aria-labelledby="h-bind">
      <div class="row-between">
        <h2 id="h-bind">Hosts for {label}</h2>
        <button type="button" class="link" onClick={onClose}>
          Close
        </button>
      </div>
      <HostPicker label={`Hosts to bind or unbind`} selected={hosts} onChange={setHosts} />
      <ErrorNote error={bind.error} />
      <OkNote text={bind.done} />
      <div class="buttons">
        <button type="button" disabled={bind.busy} onClick={() => run(true)}>
          Bind
        </button>
        <button type="button" disabled={bind.busy} onClick={() => run(false)}>
          Unbind
        </button>
      </div>
    </form>
  );
}
