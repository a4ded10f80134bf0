import { useState } from 'preact/hooks';
import { bindTag, createTag, deleteTag, listTags } from '../api/endpoints.ts';
import type { Tag } from '../api/types.ts';
import { errorText } from '../api/errors.ts';
import { HostPicker } from '../components/host-picker.tsx';
import { ErrorNote } from '../components/notice.tsx';
import { Pager } from '../components/pager.tsx';
import { formatLocal, formatUtc } from '../lib/time.ts';
import { usePoll } from '../lib/use-poll.ts';

export function Tags() {
  const [paging, setPaging] = useState({ offset: 0, limit: 50 });
  const [filter, setFilter] = useState('');
  const [editing, setEditing] = useState<Tag | null>(null);
  const [error, setError] = useState<string | null>(null);
  const tags = usePoll(
    (s) => listTags({ ...paging, order: 'asc', sortby: 'name', name: filter.trim() || undefined }, s),
    [paging.offset, paging.limit, filter],
  );

  const remove = async (t: Tag) => {
    if (!confirm(`Delete tag ${t.name}=${t.value}? It is unbound from ${t.hosts} host(s).`)) return;
    setError(null);
    try {
      await deleteTag(t.id);
      if (editing?.id === t.id) setEditing(null);
      tags.reload();
    } catch (err) {
      setError(`Delete failed: ${errorText(err)}`);
    }
  };

  return (
    <div class="page">
      <h1>Tags</h1>
      <section class="card" aria-labelledby="h-tags">
        <div class="row-between">
          <h2 id="h-tags">Tags</h2>
          <label>
            Filter by key{' '}
            <input type="search" value={filter} onInput={(e) => { setFilter((e.currentTarget as HTMLInputElement).value); setPaging({ ...paging, offset: 0 }); }} />
          </label>
        </div>
        <ErrorNote error={tags.error ?? error} />
        <table aria-labelledby="h-tags">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Value</th>
              <th scope="col">Bound hosts</th>
              <th scope="col">Updated</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(tags.data?.tags ?? []).map((t) => (
              <tr class={editing?.id === t.id ? 'row-open' : undefined}>
                <th scope="row">{t.name}</th>
                <td>{t.value}</td>
                <td aria-label={`Hosts bound to ${t.name}=${t.value}`}>{t.hosts}</td>
                <td>
                  <time title={formatUtc(t.gmt_modify)}>{formatLocal(t.gmt_modify)}</time>
                </td>
                <td class="actions">
                  <button type="button" onClick={() => setEditing(t)} aria-label={`Bind or unbind hosts for ${t.name}=${t.value}`}>
                    Hosts…
                  </button>
                  <button type="button" class="danger" onClick={() => void remove(t)} aria-label={`Delete tag ${t.name}=${t.value}`}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
            {tags.data && tags.data.tags.length === 0 && (
              <tr>
                <td colSpan={5} class="muted">
                  No tags yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
        <Pager label="Tags" offset={paging.offset} limit={paging.limit} count={tags.data?.count ?? 0} onChange={(offset, limit) => setPaging({ offset, limit })} />
      </section>
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
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    if (!name.trim() || !value.trim()) return setError('Key and value are both required.');
    setBusy(true);
    try {
      await createTag(name.trim(), value.trim());
      setName('');
      setValue('');
      onCreated();
    } catch (err) {
      setError(`Could not create the tag: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card form" onSubmit={submit} aria-labelledby="h-create-tag">
      <h2 id="h-create-tag">Create a tag</h2>
      <label>
        Key
        <input value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
      </label>
      <label>
        Value
        <input value={value} onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)} />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        Create tag
      </button>
    </form>
  );
}

function BindForm({ tag, onChanged, onClose }: { tag: Tag; onChanged: () => void; onClose: () => void }) {
  const [hosts, setHosts] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const label = `${tag.name}=${tag.value}`;
  const run = async (bind: boolean) => {
    setError(null);
    setResult(null);
    if (hosts.length === 0) return setError('Choose at least one host.');
    setBusy(true);
    try {
      const r = await bindTag(tag.id, hosts, bind);
      const unknown = r.unknown?.length ? ` Unknown: ${r.unknown.join(', ')}.` : '';
      setResult(`${bind ? 'Bound' : 'Unbound'} ${r.changed} host(s).${unknown}`);
      setHosts([]);
      onChanged();
    } catch (err) {
      setError(`Could not ${bind ? 'bind' : 'unbind'}: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
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
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {result && (
        <p class="ok" role="status">
          {result}
        </p>
      )}
      <div class="buttons">
        <button type="button" disabled={busy} onClick={() => void run(true)}>
          Bind
        </button>
        <button type="button" disabled={busy} onClick={() => void run(false)}>
          Unbind
        </button>
      </div>
    </form>
  );
}
